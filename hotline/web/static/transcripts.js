"use strict";
// The supervisor's post-call transcripts panel: search by phrase, category and date
// (/page-api/supervisor/transcripts, each search in the access log), and the trends per
// queue, intent or agent: calls, mean sentiment, calls with each category spotted.
(function () {
  const box = document.getElementById("transcripts-box");
  if (!box) return;
  const form = document.getElementById("transcript-search");
  const results = document.getElementById("transcript-results");
  const by = document.getElementById("transcript-trends-by");
  const trends = document.querySelector("#transcript-trends tbody");

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  function line(text) {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }

  function spottedText(spotted) {
    return Object.entries(spotted).map(([name, n]) => name + " " + n).join(", ");
  }

  function shown(transcript) {
    const item = document.createElement("li");
    const head = document.createElement("p");
    head.append(LTR(transcript.created_at.slice(0, 16).replace("T", " ")), " ",
      T("queue {queue}, agent {agent}, sentiment {sentiment}", {
        queue: transcript.queue || "-",
        agent: transcript.agent || "-",
        sentiment: transcript.sentiment.toFixed(2),
      }));
    const categories = Object.keys(transcript.spotted);
    if (categories.length) head.append(" · ", T("spotted: {categories}", { categories: categories.join(", ") }));
    const text = document.createElement("p");
    text.className = "transcript-text";
    text.dir = "auto";
    text.textContent = transcript.text;
    item.append(head, text);
    return item;
  }

  async function search(event) {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of ["q", "category", "since"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    results.replaceChildren();
    try {
      const found = await getJson("/page-api/supervisor/transcripts?" + params);
      if (!found.transcripts.length) results.append(line(T("No transcript found.")));
      for (const transcript of found.transcripts) results.append(shown(transcript));
    } catch (error) {
      results.append(line(T("Search failed ({error}).", { error: error.message })));
    }
  }

  async function loadTrends() {
    trends.replaceChildren();
    let found;
    try {
      found = await getJson("/page-api/supervisor/transcripts/trends?by=" + encodeURIComponent(by.value));
    } catch (error) {
      return;
    }
    for (const row of found.trends) {
      const tr = document.createElement("tr");
      for (const value of [row[found.by] || "-", row.calls, row.mean_sentiment.toFixed(2), spottedText(row.spotted)]) {
        const td = document.createElement("td");
        td.append(LTR(value));
        tr.append(td);
      }
      trends.append(tr);
    }
  }

  form.addEventListener("submit", search);
  by.addEventListener("change", loadTrends);
  loadTrends();
})();
