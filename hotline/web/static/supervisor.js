"use strict";
// The supervisor page: one WebSocket, the server pushes whole snapshots; no polling.
// Rows (agents, waiting calls) are kept and updated in place, keyed by id, so a button or a
// menu under the pointer is not replaced by every push.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const BUMP = 10; // priority points per click
  const pct = (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + "%");
  const secs = (v) => (v === null || v === undefined ? "–" : Math.round(v) + " " + T("s"));
  const score = (v) => (v === null || v === undefined ? "–" : v.toFixed(1) + " / 5");
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function setText(cell, text) { const t = String(text); if (cell.textContent !== t) cell.textContent = t; }
  function kpiBox(label, value, cls) {
    const d = el("div", null, { class: "kpi" + (cls ? " " + cls : "") });
    d.append(el("b", value), el("span", label));
    return d;
  }
  function callBoxes(k) {
    return [
      kpiBox(T("service level"), pct(k.service_level)), kpiBox(T("ASA"), secs(k.asa)),
      kpiBox(T("AHT"), secs(k.aht)), kpiBox(T("abandoned"), pct(k.abandon_rate)),
      kpiBox(T("offered"), k.offered), kpiBox(T("answered"), k.answered)];
  }
  function qualityBoxes(period, stale) {
    const cls = "quality" + (stale ? " stale" : "");
    const p = period || {};
    const fcr = kpiBox(T("FCR so far"), pct(p.fcr_so_far), cls + " fcr");
    fcr.title = T("{n} contacts, {pending} within the repeat window", { n: p.fcr_contacts || 0, pending: p.fcr_pending || 0 });
    const csat = kpiBox(T("CSAT ({n} answers)", { n: p.csat_responses || 0 }), score(p.csat), cls + " csat");
    const boxes = [fcr, csat];
    if (stale) boxes.push(el("span", T("stale: the history store is not answering"), { class: "stale-note" }));
    return boxes;
  }
  function renderKpis(s) {
    const q = s.quality || {};
    document.getElementById("kpis").replaceChildren(...callBoxes(s.kpis), ...qualityBoxes(q.today, q.stale));
    const last = s.last_interval;
    setText(document.getElementById("last-interval-span"), last ? `${last.label}–${last.until}` : "");
    document.getElementById("last-kpis").replaceChildren(...callBoxes(last), ...qualityBoxes(q.last_interval, q.stale));
  }

  // charts: small inline SVG, one bar group (or point) per 15-minute interval -------------
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, title) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (title) { const t = document.createElementNS(SVG, "title"); t.textContent = title; e.append(t); }
    return e;
  }
  const H = 90, TOP = 6, BOTTOM = 16, STEP = 22;
  function frame(n, cls, label) {
    const w = Math.max(STEP * n, STEP * 4) + 30;
    const s = svg("svg", { class: "chart " + cls, width: w, height: H, viewBox: `0 0 ${w} ${H}`, role: "img", "aria-label": label, direction: "ltr" });
    s.append(svg("line", { x1: 28, y1: H - BOTTOM, x2: w, y2: H - BOTTOM, class: "axis" }));
    return s;
  }
  function xLabel(s, i, text) {
    const t = svg("text", { x: 30 + i * STEP + STEP / 2, y: H - 4, "text-anchor": "middle", class: "tick" });
    t.textContent = text;
    s.append(t);
  }
  function yLabel(s, y, text) {
    const t = svg("text", { x: 24, y: y + 3, "text-anchor": "end", class: "tick" });
    t.textContent = text;
    s.append(t);
  }
  function volumeChart(series) {
    const s = frame(series.length, "volume", T("calls per interval"));
    const max = Math.max(1, ...series.map((r) => r.offered));
    const scale = (H - TOP - BOTTOM) / max;
    yLabel(s, TOP, max); yLabel(s, H - BOTTOM, 0);
    series.forEach((r, i) => {
      const x = 30 + i * STEP;
      [["offered", r.offered], ["answered", r.answered], ["abandoned", r.abandoned]].forEach(([kind, v], j) => {
        const h = v * scale;
        s.append(svg("rect", { x: x + 2 + j * 6, y: H - BOTTOM - h, width: 5, height: Math.max(h, 0.5), class: "bar " + kind },
          `${r.label} ${T(kind)}: ${v}`));
      });
      if (i % 4 === 0) xLabel(s, i, r.label);
    });
    return s;
  }
  function slChart(series) {
    const s = frame(series.length, "sl", T("service level per interval"));
    const y = (v) => TOP + (1 - v) * (H - TOP - BOTTOM);
    yLabel(s, y(1), "100%"); yLabel(s, y(0), "0%");
    const points = [];
    series.forEach((r, i) => {
      if (i % 4 === 0) xLabel(s, i, r.label);
      if (r.service_level === null || r.service_level === undefined) return;
      const x = 30 + i * STEP + STEP / 2;
      points.push(`${x},${y(r.service_level)}`);
      s.append(svg("circle", { cx: x, cy: y(r.service_level), r: 3, class: "point" }, `${r.label} ${T("service level")}: ${pct(r.service_level)}`));
    });
    if (points.length > 1) s.insertBefore(svg("polyline", { points: points.join(" "), class: "line" }), s.children[1]);
    return s;
  }
  function renderCharts(series) {
    const box = document.getElementById("charts");
    if (!series || !series.length) { box.replaceChildren(el("p", T("No calls yet today."))); return; }
    const legend = el("p", null, { class: "legend" });
    for (const kind of ["offered", "answered", "abandoned"]) legend.append(el("span", T(kind), { class: "key " + kind }));
    const vol = el("figure"); vol.append(volumeChart(series), el("figcaption", T("Calls")), legend);
    const sl = el("figure"); sl.append(slChart(series), el("figcaption", T("Service level")));
    box.replaceChildren(vol, sl);
  }

  // queues and their waiting calls ---------------------------------------------------------
  const queueBoxes = new Map();
  const callRows = new Map();
  let queueNames = [];
  function queueBox(name) {
    let q = queueBoxes.get(name);
    if (!q) {
      const section = el("div", null, { class: "queue", "data-queue": name });
      const head = el("h3"), last = el("p", null, { class: "last-interval" });
      const table = el("table"), hrow = el("tr"), body = el("tbody");
      hrow.append(...["call", "priority", "wait", "intent", "tier", "language", "ringing", ""].map((h) => el("th", h ? T(h) : "")));
      const thead = el("thead"); thead.append(hrow);
      table.append(thead, body);
      section.append(head, last, table);
      q = { section, head, last, body };
      queueBoxes.set(name, q);
    }
    return q;
  }
  function callRow(c) {
    let r = callRows.get(c.call_id);
    if (!r) {
      r = el("tr", null, { class: "waiting-call", "data-call": c.call_id });
      for (let i = 0; i < 7; i++) r.append(el("td"));
      const act = el("td", null, { class: "call-actions" });
      const bump = el("button", T("+{n} priority", { n: BUMP }), { class: "raise-priority", type: "button" });
      bump.addEventListener("click", () => call_action(c.call_id, "priority", { by: BUMP }));
      const pick = el("select", null, { class: "move-to", "aria-label": T("move to queue") });
      const move = el("button", T("Move"), { class: "move", type: "button" });
      move.addEventListener("click", () => { if (pick.value) call_action(c.call_id, "move", { queue: pick.value }); });
      act.append(bump, " ", pick, " ", move);
      r.append(act);
      callRows.set(c.call_id, r);
    }
    return r;
  }
  function fillMoveTargets(row, queue) {
    const pick = row.querySelector("select.move-to");
    const wanted = queueNames.filter((n) => n !== queue);
    const have = Array.from(pick.options).map((o) => o.value);
    if (have.join("\n") === wanted.join("\n")) return;
    pick.replaceChildren(...wanted.map((n) => el("option", n, { value: n })));
  }
  function renderQueues(queues) {
    const box = document.getElementById("queues");
    queueNames = queues.map((q) => q.name);
    const seen = new Set();
    queues.forEach((q, qi) => {
      const b = queueBox(q.name);
      if (box.children[qi] !== b.section) box.insertBefore(b.section, box.children[qi] || null);
      const k = q.kpis || {}, l = q.last_interval || {};
      setText(b.head, `${q.name}: ${T("{n} waiting, longest {wait}", { n: q.calls.length, wait: secs(q.longest_wait_s) })}, ` +
        `${T("today")}: SL ${pct(k.service_level)}, ASA ${secs(k.asa)}, AHT ${secs(k.aht)}, ${T("abandoned")} ${pct(k.abandon_rate)}`);
      setText(b.last, `${T("last interval")}: SL ${pct(l.service_level)}, ASA ${secs(l.asa)}, AHT ${secs(l.aht)}, ` +
        `${T("abandoned")} ${pct(l.abandon_rate)}, ${T("offered")} ${l.offered || 0}`);
      q.calls.forEach((c, i) => {
        seen.add(c.call_id);
        const r = callRow(c);
        const cells = r.cells;
        setText(cells[0], c.call_id); setText(cells[1], c.priority); setText(cells[2], secs(c.wait_s));
        setText(cells[3], c.intent || "–"); setText(cells[4], c.tier || "–"); setText(cells[5], c.language || "–");
        setText(cells[6], c.ringing || "");
        r.dataset.queue = q.name;
        fillMoveTargets(r, q.name);
        const ringing = Boolean(c.ringing);
        for (const control of r.querySelectorAll("button, select")) control.disabled = ringing;
        if (b.body.children[i] !== r) b.body.insertBefore(r, b.body.children[i] || null);
      });
      while (b.body.children.length > q.calls.length) b.body.lastChild.remove();
    });
    for (const [id, r] of callRows) if (!seen.has(id)) { r.remove(); callRows.delete(id); }
    for (const [name, b] of queueBoxes) if (!queueNames.includes(name)) { b.section.remove(); queueBoxes.delete(name); }
  }

  // agents -----------------------------------------------------------------------------------
  const agentRows = new Map();
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
          const s = el("button", T(mode), { class: "spy-" + mode });
          s.addEventListener("click", () => act_on(a.agent_id, "spy", { mode }));
          act.append(" ", s);
        }
        r.append(act);
        r.cells[1].className = "state";
        agentRows.set(a.agent_id, r); body.append(r);
      }
      const paused = a.state.toLowerCase().includes("pause");
      setText(r.cells[0], a.agent_id); setText(r.cells[1], T(a.state));
      setText(r.cells[2], secs(a.time_in_state_s)); setText(r.cells[3], a.call_id || "");
      setText(r.cells[4], a.pause_reason || ""); setText(r.cells[5], a.calls_handled);
      const b = r.cells[6].firstChild;
      b.dataset.action = paused ? "ready" : "pause";
      b.className = paused ? "ready" : "pause";
      setText(b, paused ? T("Unpause") : T("Pause"));
    }
    for (const [id, r] of agentRows) if (!seen.has(id)) { r.remove(); agentRows.delete(id); }
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST", headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "same-origin" });
    if (res.status === 401) location.href = "/login?next=/supervisor";
    else if (!res.ok) {
      const text = await res.text();
      let message = text;
      try { message = JSON.parse(text).error || text; } catch (e) { /* plain text */ }
      status.textContent = T("action refused: {reason}", { reason: message });
    }
  }
  function act_on(agent, action, body) {
    return post(`/page-api/agents/${encodeURIComponent(agent)}/${action}`, body || { reason: "supervisor" });
  }
  function call_action(callId, action, body) {
    return post(`/page-api/calls/${encodeURIComponent(callId)}/${action}`, body);
  }

  let delay = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/supervisor");
    ws.onopen = () => { status.textContent = T("live"); status.className = ""; delay = 500; };
    ws.onmessage = (m) => {
      const s = JSON.parse(m.data);
      renderKpis(s); renderCharts(s.intervals); renderQueues(s.queues); renderAgents(s.agents);
    };
    ws.onclose = async () => {
      // Signed out or expired? Then the page itself answers with the login page.
      const res = await fetch("/supervisor", { method: "HEAD", credentials: "same-origin" }).catch(() => null);
      if (res && res.redirected && new URL(res.url).pathname === "/login") { location.href = "/login?next=/supervisor"; return; }
      status.textContent = T("reconnecting…"); status.className = "down";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
