"use strict";
// The supervisor page: one WebSocket, the server pushes whole snapshots; no polling.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const pct = (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + "%");
  const secs = (v) => (v === null || v === undefined ? "–" : Math.round(v) + " s");
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function kpiBox(label, value) {
    const d = el("div", null, { class: "kpi" });
    d.append(el("b", value), el("span", label));
    return d;
  }
  function renderKpis(k) {
    const box = document.getElementById("kpis");
    box.replaceChildren(
      kpiBox("service level", pct(k.service_level)), kpiBox("ASA", secs(k.asa)),
      kpiBox("AHT", secs(k.aht)), kpiBox("abandoned", pct(k.abandon_rate)),
      kpiBox("offered", k.offered), kpiBox("answered", k.answered));
  }
  function renderQueues(queues) {
    const box = document.getElementById("queues");
    box.replaceChildren(...queues.map((q) => {
      const s = el("div", null, { class: "queue", "data-queue": q.name });
      const k = q.kpis || {};
      s.append(el("h3", `${q.name}: ${q.calls.length} waiting, longest ${secs(q.longest_wait_s)}, ` +
        `SL ${pct(k.service_level)}, ASA ${secs(k.asa)}, AHT ${secs(k.aht)}, abandoned ${pct(k.abandon_rate)}`));
      const t = el("table");
      t.append(el("tr")); t.rows[0].append(...["call", "priority", "wait", "intent", "tier", "language", "ringing"].map((h) => el("th", h)));
      for (const c of q.calls) {
        const r = el("tr", null, { class: "waiting-call", "data-call": c.call_id });
        r.append(el("td", c.call_id), el("td", c.priority), el("td", secs(c.wait_s)),
          el("td", c.intent || "–"), el("td", c.tier || "–"), el("td", c.language || "–"),
          el("td", c.ringing || ""));
        t.append(r);
      }
      s.append(t);
      return s;
    }));
  }
  // Rows are kept and updated in place (keyed by agent), so a button under the pointer is
  // not replaced by every push.
  const agentRows = new Map();
  function setText(cell, text) { const t = String(text); if (cell.textContent !== t) cell.textContent = t; }
  function renderAgents(agents) {
    const body = document.querySelector("#agents tbody");
    const seen = new Set();
    for (const a of agents) {
      seen.add(a.agent_id);
      let r = agentRows.get(a.agent_id);
      if (!r) {
        r = el("tr", null, { "data-agent": a.agent_id });
        for (let i = 0; i < 6; i++) r.append(el("td"));
        const act = el("td");
        const b = el("button");
        b.addEventListener("click", () => act_on(a.agent_id, b.dataset.action));
        act.append(b);
        for (const mode of ["listen", "whisper", "barge"]) {
          const s = el("button", mode, { class: "spy-" + mode });
          s.addEventListener("click", () => act_on(a.agent_id, "spy", { mode }));
          act.append(" ", s);
        }
        r.append(act);
        r.cells[1].className = "state";
        agentRows.set(a.agent_id, r); body.append(r);
      }
      const paused = a.state.toLowerCase().includes("pause");
      setText(r.cells[0], a.agent_id); setText(r.cells[1], a.state);
      setText(r.cells[2], secs(a.time_in_state_s)); setText(r.cells[3], a.call_id || "");
      setText(r.cells[4], a.pause_reason || ""); setText(r.cells[5], a.calls_handled);
      const b = r.cells[6].firstChild;
      b.dataset.action = paused ? "ready" : "pause";
      b.className = paused ? "ready" : "pause";
      setText(b, paused ? "Unpause" : "Pause");
    }
    for (const [id, r] of agentRows) if (!seen.has(id)) { r.remove(); agentRows.delete(id); }
  }
  async function act_on(agent, action, body) {
    const res = await fetch(`/page-api/agents/${encodeURIComponent(agent)}/${action}`, {
      method: "POST", headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body || { reason: "supervisor" }), credentials: "same-origin" });
    if (res.status === 401) location.href = "/login?next=/supervisor";
    else if (!res.ok) status.textContent = "action refused: " + (await res.text());
  }
  let delay = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/supervisor");
    ws.onopen = () => { status.textContent = "live"; status.className = ""; delay = 500; };
    ws.onmessage = (m) => {
      const s = JSON.parse(m.data);
      renderKpis(s.kpis); renderQueues(s.queues); renderAgents(s.agents);
    };
    ws.onclose = async () => {
      // Signed out or expired? Then the page itself answers with the login page.
      const res = await fetch("/supervisor", { method: "HEAD", credentials: "same-origin" }).catch(() => null);
      if (res && res.redirected && new URL(res.url).pathname === "/login") { location.href = "/login?next=/supervisor"; return; }
      status.textContent = "reconnecting…"; status.className = "down";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
