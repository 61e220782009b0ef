"use strict";
// The agent's page: its own state pushed over a WebSocket; the screen-pop is fetched once
// when a new call is offered (an event, not a polling loop).
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const lang = document.documentElement.lang || "en";
  let currentCall = null;
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  // A config or history name in the page's language, or at least without underscores.
  function label(name) { const t = T(name); return t === name ? String(name).replace(/_/g, " ") : t; }
  // Numbers, ids, phone numbers: left to right inside Arabic text, isolated.
  function ltr(text, title) { const s = el("span", text, "ltr-value"); if (title) s.title = title; return s; }
  // "3 days ago" and "6 Dec 2026, 09:14" in the page's language and the browser's time zone.
  const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  function ago(iso) {
    const s = (new Date(iso).getTime() - Date.now()) / 1000, a = Math.abs(s);
    const [n, unit] = a < 60 ? [s, "second"] : a < 3600 ? [s / 60, "minute"] : a < 86400 ? [s / 3600, "hour"]
      : a < 30 * 86400 ? [s / 86400, "day"] : a < 365 * 86400 ? [s / (30 * 86400), "month"] : [s / (365 * 86400), "year"];
    return relative.format(Math.round(n), unit);
  }
  function when(iso) {
    const t = el("time", null, "when");
    t.dateTime = iso;
    t.append(el("b", ago(iso)), " ", el("span", new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" }), "local"));
    return t;
  }
  async function post(path, body) {
    const res = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
    if (res.status === 401) { location.href = "/login?next=/agent"; return null; }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) $("status").textContent = data.error || res.statusText; else $("status").textContent = "";
    return res.ok ? data : null;
  }
  document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () =>
    post("/page-api/agent/" + b.dataset.action, { reason: $("pause-reason").value })));

  // the screen-pop ---------------------------------------------------------------------------
  function callerParts(caller, callId) {
    const c = caller || {}, title = T("Asterisk call id: {id}", { id: callId });
    const parts = [];
    if (c.customer_name) { const b = el("b", c.customer_name); b.title = title; parts.push(b, " "); }
    parts.push(c.number ? ltr(c.number, title) : el("span", T("unknown number"), "unknown"));
    return parts;
  }
  function row(dl, label, ...value) {
    const dd = el("dd"); dd.append(...value);
    dl.append(el("dt", label), dd);
  }
  function renderIvr(ivr) {
    const dl = $("pop-ivr");
    dl.replaceChildren();
    if (!ivr) { row(dl, T("Intent"), "–"); return; }
    const intent = el("span", ivr.intent ? label(ivr.intent) : T("not understood"), "intent");
    const parts = [intent];
    if (ivr.intent_confidence !== null && ivr.intent_confidence !== undefined) {
      // U+2066/U+2069 isolate the figure inside the translated sentence (left to right in Arabic)
      parts.push(" ", el("span", T("{p} sure", { p: "\u2066" + Math.round(ivr.intent_confidence * 100) + "%\u2069" }), "confidence"));
    }
    row(dl, T("Intent"), ...parts);
    // what the caller said, in its own direction (English words in an Arabic page, or Arabic)
    const said = el("bdi", `“${ivr.transcript}”`, "transcript");
    row(dl, T("Caller said"), ivr.transcript ? said : el("span", T("nothing (keys only)"), "unknown"));
    const path = el("ol", null, "path");
    for (const step of ivr.menu_path || []) {
      const li = el("li", null, step.heard ? "heard" : "passed"); // where the caller did something
      li.append(ltr(step.node));
      if (step.heard) { const heard = el("small"); heard.append("(", el("bdi", step.heard), ")"); li.append(" ", heard); }
      path.append(li);
    }
    row(dl, T("Menu path"), (ivr.menu_path || []).length ? path : "–");
    const entities = (ivr.entities || []).map((e) => ltr(`${e.name} = ${e.value}`));
    row(dl, T("Entities"), ...(entities.length ? entities.flatMap((e, i) => (i ? [", ", e] : [e])) : ["–"]));
    row(dl, T("type"), ivr.call_type ? label(ivr.call_type) : "–");
    row(dl, T("language"), ivr.language || "–");
    row(dl, T("complexity"), ltr(`${ivr.complexity} / 5`));
    if (ivr.tags && ivr.tags.length) row(dl, T("tags"), ivr.tags.join(", "));
  }
  function renderCustomer(c, ivr, caller) {
    const box = $("pop-customer");
    if (!c) {
      const who = caller && caller.customer_name ? caller.customer_name : T("Unknown caller");
      box.replaceChildren(el("p", who, "unknown"));
      return;
    }
    const head = el("p", null, "customer");
    head.append(el("b", c.name || T("no name on record")), " ", el("span", T("tier {tier}", { tier: c.tier ? label(c.tier) : (ivr && ivr.tier) || "–" }), "tier"));
    const ids = el("p", null, "identities");
    ids.append(T("customer"), " ", ltr("#" + c.id));
    for (const i of c.identities || []) ids.append(" · ", ltr(i.value, T(i.kind)));
    box.replaceChildren(head, ids);
    if (c.tags && c.tags.length) box.append(el("p", T("tags") + ": " + c.tags.join(", "), "tags"));
  }
  function contactParts(i, agentName) {
    const parts = [el("span", label(i.channel), "channel channel-" + i.channel), " ", when(i.started_at)];
    const outcome = i.outcome || i.disposition;
    parts.push(" · ", el("span", outcome ? label(outcome) : label(i.status), "outcome"));
    if (i.intent) parts.push(" · ", el("span", label(i.intent), "intent"));
    if (agentName) parts.push(" · ", el("span", T("with {agent}", { agent: agentName }), "agent"));
    return parts;
  }
  function renderIssues(issues) {
    const list = $("pop-issues");
    if (!issues || !issues.length) { list.replaceChildren(el("li", T("none"), "empty")); return; }
    list.replaceChildren(...issues.map((i) => { const li = el("li"); li.append(...contactParts(i, i.agent_name)); return li; }));
  }
  function renderTimeline(entries) {
    const list = $("pop-timeline");
    if (!entries || !entries.length) { list.replaceChildren(el("li", T("No earlier contact."), "empty")); return; }
    list.replaceChildren(...entries.map((e) => {
      const li = el("li", null, e.current ? "current" : "");
      li.append(...contactParts(e.interaction, e.agent_name));
      if (e.current) li.append(" ", el("span", T("this call"), "this-call"));
      (e.notes || []).forEach((n, i) => {
        const note = el("blockquote", null, "note");
        note.append(el("bdi", n.body), " ", el("cite", (e.note_authors || [])[i] || n.author));
        li.append(note);
      });
      return li;
    }));
  }
  async function pop(callId) {
    const res = await fetch("/page-api/agent/calls/" + encodeURIComponent(callId), { credentials: "same-origin" });
    if (!res.ok) return;
    const p = await res.json();
    $("pop").hidden = false;
    $("pop-caller").replaceChildren(...callerParts(p.caller, callId));
    renderCustomer(p.customer, p.ivr, p.caller);
    renderIssues(p.open_issues);
    renderIvr(p.ivr);
    renderTimeline(p.timeline);
    if (p.history_unavailable) $("pop-timeline").prepend(el("li", T("The history is not answering: earlier contacts are missing."), "error"));
  }
  $("wrapup").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!currentCall) return;
    const f = new FormData($("wrapup"));
    const ok = await post(`/page-api/agent/calls/${encodeURIComponent(currentCall)}/wrapup`,
      { disposition: f.get("disposition"), status: f.get("status"), note: f.get("note") });
    $("wrapup-saved").textContent = ok ? T("saved") : "";
  });
  let delay = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent");
    ws.onopen = () => { delay = 500; };
    ws.onmessage = (m) => {
      const a = JSON.parse(m.data).agent;
      if (!a) return;
      document.dispatchEvent(new CustomEvent("hotline:agent", { detail: a })); // agent_call.js
      if (a.name) $("agent-name").textContent = a.name;
      const state = T(a.state);
      $("state").textContent = state === a.state ? a.state.replace(/_/g, " ") : state;
      $("since").textContent = T("for {s} s", { s: Math.round(a.time_in_state_s) });
      $("reason").textContent = a.pause_reason ? `(${T(a.pause_reason)})` : "";
      const pending = $("pending");
      pending.hidden = !a.pending;
      pending.textContent = !a.pending ? "" : a.pending.action === "pause"
        ? T("pause pending: {reason}", { reason: a.pending.reason ? T(a.pending.reason) : "–" }) : T("logout pending");
      if (a.call_id && a.call_id !== currentCall) { currentCall = a.call_id; $("wrapup").reset(); $("wrapup-saved").textContent = ""; pop(a.call_id); }
    };
    ws.onclose = async () => {
      // Signed out or expired? Then the page itself answers with the login page.
      const res = await fetch("/agent", { method: "HEAD", credentials: "same-origin" }).catch(() => null);
      if (res && res.redirected && new URL(res.url).pathname === "/login") { location.href = "/login?next=/agent"; return; }
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
