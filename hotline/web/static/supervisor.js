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
  // A duration people read: "45 s", "7 min 50 s", "1 h 02 min".
  function dur(v) {
    if (v === null || v === undefined) return "–";
    const t = Math.max(0, Math.round(v));
    if (t < 60) return T("{s} s", { s: t });
    if (t < 3600) return T("{m} min {s} s", { m: Math.floor(t / 60), s: t % 60 });
    return T("{h} h {m} min", { h: Math.floor(t / 3600), m: String(Math.floor((t % 3600) / 60)).padStart(2, "0") });
  }
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function setText(cell, text) { const t = String(text); if (cell.textContent !== t) cell.textContent = t; }
  // Numbers, ids, phone numbers and skill names keep their left-to-right order in Arabic.
  function ltr(text, title) { const s = el("span", text, { class: "ltr-value" }); if (title) s.title = title; return s; }
  // Replace a node's children only when what they show changed (no flicker, no lost hover).
  function fill(node, parts) {
    const key = parts.map((p) => (typeof p === "string" ? p : `${p.className}\u0001${p.title || ""}\u0001${p.textContent}`)).join("\u0002");
    if (node._shown === key) return;
    node._shown = key;
    node.replaceChildren(...parts);
  }
  function kpiBox(label, value, cls) {
    const d = el("div", null, { class: "kpi" + (cls ? " " + cls : "") });
    d.append(el("b", value), el("span", label));
    return d;
  }
  function callBoxes(k) {
    return [
      kpiBox(T("service level"), pct(k.service_level)), kpiBox(T("ASA"), secs(k.asa)),
      kpiBox(T("AHT"), secs(k.aht)), kpiBox(T("abandoned"), pct(k.abandon_rate)),
      kpiBox(T("offered"), k.offered), kpiBox(T("answered"), k.answered),
      kpiBox(T("occupancy"), pct(k.occupancy), "occupancy")];
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
    const kpiStale = Boolean(s.kpis_stale || (s.kpis || {}).stale);
    for (const id of ["kpis", "last-kpis"]) document.getElementById(id).classList.toggle("stale", kpiStale);
    const today = { ...s.kpis, occupancy: s.occupancy };
    document.getElementById("kpis").replaceChildren(...callBoxes(today), ...qualityBoxes(q.today, q.stale));
    const last = s.last_interval;
    setText(document.getElementById("last-interval-span"), last ? `${last.label}–${last.until}` : "");
    document.getElementById("last-kpis").replaceChildren(...callBoxes(last), ...qualityBoxes(q.last_interval, q.stale));
    if (kpiStale) document.getElementById("kpis").append(el("span", T("stale: these figures are being rebuilt"), { class: "stale-note" }));
  }

  // channels: every channel together, then each, for the period chosen ----------------------
  const periodPick = document.getElementById("channel-period");
  let lastSnapshot = null;
  periodPick.addEventListener("change", () => { if (lastSnapshot) renderChannels(lastSnapshot); });
  function channelName(ch) { return ch === "all" ? T("all channels") : stateLabel(ch); }
  function renderChannels(s) {
    lastSnapshot = s;
    const period = periodPick.value;
    const figures = period === "current" ? s.current_interval : period === "last" ? s.last_interval : s;
    const channels = (figures && figures.channels) || {}, capacity = (figures && figures.capacity) || {};
    const quality = s.quality || {};
    const q = period === "today" ? quality.today : period === "last" ? quality.last_interval : null;
    const fcrs = (q && q.fcr_by_channel) || {};
    const order = ["all", ...Object.keys(channels).filter((ch) => ch !== "all").sort()].filter((ch) => channels[ch]);
    const rows = order.map((ch) => {
      const k = channels[ch], use = capacity[ch];
      const fcr = ch === "all" ? q && q.fcr_so_far : fcrs[ch] && fcrs[ch].fcr_so_far;
      return [channelName(ch), k.offered, k.answered, k.abandoned, pct(k.service_level), dur(k.asa),
        dur(k.aht), dur(k.agent_time), k.backlog, dur(k.oldest_age_s), pct(use ? use.utilisation : null), pct(fcr)];
    });
    const body = document.querySelector("#channels tbody");
    const key = JSON.stringify(rows);
    if (body._shown === key) return;
    body._shown = key;
    body.replaceChildren(...rows.map((cells, i) => {
      const tr = el("tr", null, { "data-channel": order[i] });
      tr.append(el("th", cells[0], { scope: "row" }));
      for (const value of cells.slice(1)) {
        const td = el("td", null, { class: "number" });
        // "92%" and counts left to right; "12 ث" (a unit in Arabic) in its own direction
        td.append(/[\u0590-\u08FF]/.test(String(value)) ? el("bdi", value) : ltr(value));
        tr.append(td);
      }
      return tr;
    }));
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

  // "on_call" -> "on call" where the page's language has no word of its own for it
  function stateLabel(state) { const t = T(state); return t === state ? state.replace(/_/g, " ") : t; }

  // who is calling, and Asterisk's link --------------------------------------------------
  // The caller as people know them: customer name and number; Asterisk's id as a tooltip.
  function callerParts(caller, callId) {
    const c = caller || {};
    const title = T("Asterisk call id: {id}", { id: callId || "–" });
    const parts = [];
    if (c.customer_name) { const b = el("b", c.customer_name, { class: "customer" }); b.title = title; parts.push(b, " "); }
    if (c.number) parts.push(ltr(c.number, title));
    else if (!c.customer_name) { const u = el("span", T("unknown number"), { class: "unknown" }); u.title = title; parts.push(u); }
    return parts;
  }
  const TERM_LABELS = {
    call_type: T("call type"), tier: T("tier"), complexity: T("complexity"), repeat: T("repeat caller"),
    chronic: T("chronic issue"), supervisor: T("supervisor"), waiting: T("waiting"), sl_risk: T("service-level risk"),
  };
  const signed = (v) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(1).replace(/\.0$/, "");
  function priorityParts(c) {
    const terms = c.priority_terms || [];
    const total = ltr(c.priority.toFixed(1), null); total.classList.add("total");
    total.title = `${c.priority.toFixed(1)} = ` + (terms.map((t) => `${t.name}${t.detail ? "[" + t.detail + "]" : ""} ${signed(t.value)}`).join(" ") || "0");
    const list = el("span", null, { class: "terms" });
    terms.forEach((t, i) => {
      const term = el("span", (TERM_LABELS[t.name] || t.name) + " ", { class: "term term-" + t.name });
      term.title = t.detail || "";
      term.append(ltr(signed(t.value)));
      if (i) list.append(" · ");
      list.append(term);
    });
    return [total, list];
  }
  let lastMessage = 0, socketOpen = false;
  function setStale(stale, why) {
    for (const box of document.querySelectorAll(".live-figures")) {
      box.classList.toggle("stale", stale);
      const note = box.querySelector(".live-stale");
      note.hidden = !stale;
      setText(note, stale ? why : "");
    }
  }
  function renderLink(t) {
    let text = T("live"), cls = "live";
    if (t && !t.live) {
      cls = "down";
      if (t.state === "asterisk_down") text = T("Asterisk down") + (t.down_for_s !== null ? " · " + T("for {d}", { d: dur(t.down_for_s) }) : "");
      else if (t.state === "connecting") text = T("connecting to Asterisk…");
      else text = T("calls cannot reach the IVR: FastAGI is not listening");
    }
    setText(status, text); status.className = "status " + cls;
    const detail = document.getElementById("link-detail");
    if (!t) { setText(detail, ""); setStale(false, ""); return; }
    const parts = [
      T("AMI: {state}", { state: T(t.ami) }), " · ", T("FastAGI: {state}", { state: T(t.fastagi) }), " · ",
      t.last_event_age_s === null ? T("no Asterisk event yet") : T("last Asterisk event {d} ago", { d: dur(t.last_event_age_s) }),
    ];
    if (t.ami_error) parts.push(" · ", ltr(t.ami_error));
    fill(detail, parts);
    setStale(!t.live, T("Asterisk is not answering: agents' states and waiting callers below may be out of date."));
  }

  // staffing alerts: callers nobody can serve, or nobody is serving --------------------------
  const ALERT_TEXT = {
    no_agent: () => T("no logged-in agent has these skills."),
    all_paused: () => T("every agent who can take them is paused:"),
    none_free: () => T("every agent who can take them is busy:"),
  };
  function alertParts(a) {
    const who = a.calls === 1 ? T("1 caller needs") : T("{n} callers need", { n: a.calls });
    const parts = [el("b", a.queue, { class: "queue-name" }), ": ", who, " ", ltr(a.need), " — ", ALERT_TEXT[a.kind]()];
    const comma = T(", ");
    a.agents.forEach((g, i) => {
      parts.push(i ? comma : " ", el("b", g.name));
      if (g.state === "paused") parts.push(" (", g.pause_reason ? T(g.pause_reason) : T("paused"), comma, dur(g.time_in_state_s), ")");
      else if (g.state) parts.push(" (", stateLabel(g.state), ")");
    });
    return parts;
  }
  function renderAlerts(alerts, box) {
    const items = alerts.map((a) => { const li = el("li", null, { class: "alert " + a.kind }); fill(li, alertParts(a)); return li; });
    // redrawn when anything shown changes, a paused agent's minutes included
    const key = JSON.stringify(alerts.map((a) => [a.kind, a.queue, a.need, a.calls,
      a.agents.map((g) => [g.name, g.state, g.pause_reason, dur(g.time_in_state_s)])]));
    if (box._shown !== key) { box._shown = key; box.replaceChildren(...items); }
    return alerts.length > 0;
  }

  // queues and their waiting calls ---------------------------------------------------------
  const queueBoxes = new Map();
  const callRows = new Map();
  let queueNames = [];
  const COLUMNS = ["caller", "priority", "wait", "intent", "tier", "language", "agents free", "ringing", ""];
  function queueBox(name) {
    let q = queueBoxes.get(name);
    if (!q) {
      const section = el("div", null, { class: "queue", "data-queue": name });
      const head = el("h3"), staff = el("p", null, { class: "staff" }), alerts = el("ul", null, { class: "queue-alerts" });
      const levels = el("div", null, { class: "levels" });
      const last = el("p", null, { class: "last-interval" });
      const table = el("table"), hrow = el("tr"), body = el("tbody");
      hrow.append(...COLUMNS.map((h) => el("th", h ? T(h) : "")));
      const thead = el("thead"); thead.append(hrow);
      table.append(thead, body);
      section.append(head, levels, staff, alerts, last, table);
      q = { section, head, levels, staff, alerts, last, body };
      queueBoxes.set(name, q);
    }
    return q;
  }
  function callRow(c) {
    let r = callRows.get(c.call_id);
    if (!r) {
      r = el("tr", null, { class: "waiting-call", "data-call": c.call_id });
      for (let i = 0; i < COLUMNS.length - 1; i++) r.append(el("td"));
      r.cells[0].className = "caller"; r.cells[1].className = "priority";
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
  function names(list) { return (list || []).map((a) => a.name).join(", "); }
  function staffParts(q) {
    const eligible = q.eligible || [], free = q.available || [];
    const counts = el("span", T("{n} eligible, {free} available", { n: eligible.length, free: free.length }), { class: "counts" + (free.length ? "" : " none") });
    counts.title = names(eligible);
    const parts = [T("Agents") + ": ", counts];
    if (free.length) parts.push(" (", names(free), ")");
    return parts;
  }
  function coverParts(c) {
    if (c.ringing) return [""];
    const free = c.available_now, n = c.eligible_now;
    const s = el("span", null, { class: "cover" + (free ? "" : " none") + (c.eligible_ever === 0 ? " never" : "") });
    s.append(ltr(`${free} / ${n}`));
    s.title = T("needs {need}; {free} of {n} agents with these skills are available; {ever} logged in can take it once its requirements have relaxed",
      { need: c.need, free, n, ever: c.eligible_ever });
    return [s];
  }
  // "today: service level 92%, ASA 12 s, ...": each figure isolated, so Arabic keeps each
  // label beside its value.
  function queueKpiParts(label, k, offered) {
    const figures = [[T("service level"), pct(k.service_level)], [T("ASA"), secs(k.asa)], [T("AHT"), secs(k.aht)],
      [T("abandoned"), pct(k.abandon_rate)]];
    if (offered) figures.push([T("offered"), String(k.offered || 0)]);
    const parts = [label + ": "];
    figures.forEach(([name, value], i) => {
      const figure = el("span", name + " ", { class: "figure" });
      // "92%" left to right; "12 ث" (a unit in Arabic) in its own direction
      figure.append(/[\u0590-\u08FF]/.test(value) ? el("bdi", value) : ltr(value));
      if (i) parts.push(T(", "));
      parts.push(figure);
    });
    return parts;
  }
  // each channel's thresholds: voice always, another channel when it has anything to say
  const METRICS = ["service_level", "longest_wait_s", "abandon_rate", "waiting"];
  function levelParts(q) {
    const channels = Object.keys(q.thresholds || {}).sort((a, b) => (a === "voice" ? -1 : b === "voice" ? 1 : a.localeCompare(b)));
    const rows = [];
    for (const ch of channels) {
      const shown = q.thresholds[ch];
      const busy = METRICS.some((m) => shown[m].level !== "ok" || (shown[m].value !== null && shown[m].value !== 0));
      if (ch !== "voice" && !busy) continue;
      const row = el("p", null, { class: "level-row", "data-channel": ch });
      row.append(el("span", channelName(ch), { class: "level-channel" }));
      for (const m of METRICS) row.append(" ", window.hotlineLevels.figure(m, shown[m]));
      rows.push(row);
    }
    return rows;
  }
  // threshold alerts: what crossed, since when (ticking), and what came back ----------------
  let receivedAt = Date.now(), serverTime = 0;
  const ago = (t) => (serverTime - t) + (Date.now() - receivedAt) / 1000;
  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  function thresholdParts(a, cleared) {
    const L = window.hotlineLevels;
    const parts = [el("span", L.icon(a.level) + " " + L.levelText(a.level), { class: "lvl-tag" }), " ",
      ltr(a.queue), " · ", channelName(a.channel), ": ", L.label(a.metric), " ", ltr(L.value(a.metric, a.value)),
      " ", T("(limit {v})", { v: L.value(a.metric, a.limit) }), " — "];
    if (cleared) parts.push(T("from {from} to {to}", { from: clock(a.since), to: clock(a.cleared_at) }));
    else {
      const since = el("span", null, { class: "since", "data-since": String(a.since) });
      since.textContent = T("since {t}, for {d}", { t: clock(a.since), d: dur(ago(a.since)) });
      parts.push(since);
    }
    return parts;
  }
  function renderThresholds(t) {
    const list = document.getElementById("threshold-alerts"), old = document.getElementById("threshold-cleared");
    const active = (t && t.active) || [], cleared = (t && t.cleared) || [];
    const key = JSON.stringify([active.map((a) => [a.queue, a.channel, a.metric, a.level, a.value, a.since]), cleared.length && cleared[0].cleared_at]);
    document.getElementById("threshold-calm").hidden = active.length > 0;
    const box = document.getElementById("threshold-box");
    box.dataset.level = active.some((a) => a.level === "crit") ? "crit" : active.length ? "warn" : "ok";
    setText(document.getElementById("threshold-count"), active.length ? T("{n} alerts", { n: active.length }) : "");
    document.getElementById("threshold-cleared-box").hidden = cleared.length === 0;
    if (list._shown === key) return;
    list._shown = key;
    list.replaceChildren(...active.map((a) => {
      const li = el("li", null, { class: "threshold-alert lvl-" + a.level, "data-queue": a.queue, "data-metric": a.metric });
      li.append(...thresholdParts(a, false));
      return li;
    }));
    old.replaceChildren(...cleared.map((a) => { const li = el("li", null, { class: "cleared" }); li.append(...thresholdParts(a, true)); return li; }));
  }
  function tick() {
    for (const s of document.querySelectorAll("#threshold-alerts .since")) {
      const since = Number(s.dataset.since);
      setText(s, T("since {t}, for {d}", { t: clock(since), d: dur(ago(since)) }));
    }
    for (const r of agentRows.values()) if (r._tis !== undefined) setText(r.cells[2], dur(r._tis + (Date.now() - receivedAt) / 1000));
  }
  setInterval(tick, 1000);

  // listen, whisper, barge: what Asterisk said of each ---------------------------------------
  const SPY_TEXT = {
    calling: () => T("calling your phone…"), ringing: () => T("your phone is ringing: answer it"),
    connected: () => T("connected"), failed: () => T("failed"), ended: () => T("ended"),
  };
  let agentNames = {};
  function renderSpies(spies) {
    const box = document.getElementById("spies-box"), list = document.getElementById("spies");
    box.hidden = !spies || spies.length === 0;
    if (!spies) return;
    const key = JSON.stringify(spies.map((x) => [x.id, x.state, x.reason]));
    if (list._shown === key) return;
    list._shown = key;
    list.replaceChildren(...spies.slice().reverse().map((x) => {
      const li = el("li", null, { class: "spy spy-" + x.state, "data-spy": x.id });
      li.append(el("b", T(x.mode)), " ", agentNames[x.agent_id] || x.agent_id, " ", ltr(x.agent_id), " · ",
        el("span", SPY_TEXT[x.state](), { class: "spy-state" }));
      const why = x.state === "ended" && x.stopped_by ? T("stopped by {name}", { name: x.stopped_by }) : x.reason ? T(x.reason) : "";
      if (why) li.append(" — ", el("span", why, { class: "spy-reason" }));
      if (!x.stopped_by) li.append(" ", el("span", T("by {name}", { name: x.supervisor }), { class: "spy-who" }));
      if (x.state !== "failed" && x.state !== "ended") {
        const stop = el("button", T("Stop"), { class: "spy-stop", type: "button" });
        stop.addEventListener("click", () => post(`/page-api/spy/${encodeURIComponent(x.id)}/stop`, {}));
        li.append(" ", stop);
      }
      return li;
    }));
  }

  function renderQueues(queues) {
    const box = document.getElementById("queues");
    queueNames = queues.map((q) => q.name);
    const seen = new Set();
    queues.forEach((q, qi) => {
      const b = queueBox(q.name);
      if (box.children[qi] !== b.section) box.insertBefore(b.section, box.children[qi] || null);
      const k = q.kpis || {}, l = q.last_interval || {};
      fill(b.head, [ltr(q.name), ": ", T("{n} waiting, longest {wait}", { n: q.waiting ?? q.calls.length, wait: dur(q.longest_wait_s) }),
        T(", "), ...queueKpiParts(T("today"), k, false)]);
      fill(b.levels, levelParts(q));
      b.section.dataset.level = q.level || "ok";
      fill(b.staff, staffParts(q));
      b.section.classList.toggle("alerting", renderAlerts(q.alerts || [], b.alerts));
      fill(b.last, queueKpiParts(T("last interval"), l, true));
      q.calls.forEach((c, i) => {
        seen.add(c.call_id);
        const r = callRow(c);
        const cells = r.cells;
        fill(cells[0], callerParts(c.caller, c.call_id));
        fill(cells[1], priorityParts(c));
        setText(cells[2], dur(c.wait_s));
        setText(cells[3], c.intent || "–"); setText(cells[4], c.tier || "–"); setText(cells[5], c.language || "–");
        fill(cells[6], coverParts(c));
        setText(cells[7], c.ringing_name || c.ringing || "");
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
  function stateParts(a) {
    const parts = [window.agentWork(a)]; // the seat's state, and what is in hand on each channel
    if (a.pending) {
      const text = a.pending.action === "pause"
        ? T("pause pending: {reason}", { reason: a.pending.reason ? T(a.pending.reason) : "–" })
        : T("logout pending");
      const badge = el("span", text, { class: "pending" });
      badge.title = T("asked for during the call; it applies when the call and its wrap-up are over");
      parts.push(" ", badge);
    }
    return parts;
  }
  // the agent's current work: the call (with the caller) and each chat or e-mail (customer)
  function taskParts(a) {
    const parts = [];
    if (a.call_id) parts.push(el("span", T("call"), { class: "task-channel voice" }), " ", ...callerParts(a.caller, a.call_id));
    for (const t of a.current || []) {
      if (parts.length) parts.push(el("br"));
      parts.push(el("span", channelName(t.channel), { class: "task-channel " + t.channel }), " ");
      if (t.customer_name) parts.push(el("b", t.customer_name, { class: "customer" }));
      else if (t.number) parts.push(ltr(t.number));
      else parts.push(el("span", T("unknown customer"), { class: "unknown" }));
      if (t.phase === "reserved") parts.push(" ", el("span", T("offered"), { class: "pending" }));
    }
    return parts.length ? parts : [""];
  }
  function renderAgents(agents) {
    const body = document.querySelector("#agents tbody");
    const seen = new Set();
    agentNames = Object.fromEntries(agents.map((a) => [a.agent_id, a.name || a.agent_id]));
    for (const a of agents) {
      seen.add(a.agent_id);
      let r = agentRows.get(a.agent_id);
      if (!r) {
        r = el("tr", null, { "data-agent": a.agent_id });
        for (let i = 0; i < 7; i++) r.append(el("td"));
        const act = el("td", null, { class: "agent-actions" });
        const b = el("button");
        b.addEventListener("click", () => act_on(a.agent_id, b.dataset.action));
        act.append(b);
        // log-out takes a second click within 5 s: a slip of the mouse does not end a shift
        const out = el("button", T("Log out"), { class: "force-logout", type: "button" });
        out.addEventListener("click", () => {
          if (out.dataset.armed) { delete out.dataset.armed; setText(out, T("Log out")); act_on(a.agent_id, "logout", {}); return; }
          out.dataset.armed = "1"; setText(out, T("Confirm log-out"));
          setTimeout(() => { delete out.dataset.armed; setText(out, T("Log out")); }, 5000);
        });
        act.append(" ", out);
        for (const mode of ["listen", "whisper", "barge"]) {
          const s = el("button", T(mode), { class: "spy-" + mode });
          s.addEventListener("click", () => act_on(a.agent_id, "spy", { mode }));
          act.append(" ", s);
        }
        r.append(act);
        r.cells[0].className = "agent"; r.cells[1].className = "state"; r.cells[3].className = "caller task";
        r.cells[4].className = "number";
        agentRows.set(a.agent_id, r); body.append(r);
      }
      const paused = a.state.toLowerCase().includes("pause");
      fill(r.cells[0], [el("b", a.name || a.agent_id), " ", ltr(a.agent_id)]);
      fill(r.cells[1], stateParts(a));
      r.dataset.state = a.state;
      r._tis = a.time_in_state_s;
      setText(r.cells[2], dur(a.time_in_state_s));
      fill(r.cells[3], taskParts(a));
      fill(r.cells[4], [ltr(pct(a.occupancy))]);
      setText(r.cells[5], a.pause_reason ? T(a.pause_reason) : ""); setText(r.cells[6], a.calls_handled);
      r.classList.toggle("has-pending", Boolean(a.pending));
      const out = a.state === "logged_out";
      for (const control of r.cells[7].querySelectorAll("button")) control.disabled = out; // logged out: nothing to act on
      const b = r.cells[7].firstChild;
      const takeBack = Boolean(a.pending); // "ready" during a call cancels the pending pause
      b.dataset.action = paused || takeBack ? "ready" : "pause";
      b.className = paused ? "ready" : takeBack ? "cancel-pending" : "pause";
      setText(b, paused ? T("Unpause") : takeBack ? T("Cancel the pending pause") : T("Pause"));
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
      document.getElementById("link-detail").textContent = T("action refused: {reason}", { reason: message });
    }
  }
  function act_on(agent, action, body) {
    return post(`/page-api/agents/${encodeURIComponent(agent)}/${action}`, body || { reason: "supervisor" });
  }
  function call_action(callId, action, body) {
    return post(`/page-api/calls/${encodeURIComponent(callId)}/${action}`, body);
  }

  // The page is live only while pushes arrive (one a second at least) and Asterisk answers.
  const SILENT_S = 5;
  setInterval(() => {
    if (socketOpen && Date.now() - lastMessage > SILENT_S * 1000) {
      setText(status, T("reconnecting…")); status.className = "status down";
      setStale(true, T("No update from the service for {d}: figures below may be out of date.", { d: dur((Date.now() - lastMessage) / 1000) }));
    }
  }, 1000);
  let delay = 500;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/supervisor");
    ws.onopen = () => { socketOpen = true; delay = 500; };
    ws.onmessage = (m) => {
      const s = JSON.parse(m.data);
      lastMessage = Date.now();
      receivedAt = lastMessage; serverTime = s.server_time || 0;
      renderLink(s.telephony);
      renderKpis(s); renderChannels(s); renderCharts(s.intervals); renderQueues(s.queues); renderAgents(s.agents);
      renderThresholds(s.thresholds); renderSpies(s.spies);
      // the banner: callers nobody logged in can serve, or whose agents are all paused
      const serious = (s.alerts || []).filter((a) => a.kind !== "none_free");
      document.getElementById("alerts-box").hidden = !renderAlerts(serious, document.getElementById("alerts"));
    };
    ws.onclose = async () => {
      socketOpen = false;
      // Signed out or expired? Then the page itself answers with the login page.
      const res = await fetch("/supervisor", { method: "HEAD", credentials: "same-origin" }).catch(() => null);
      if (res && res.redirected && new URL(res.url).pathname === "/login") { location.href = "/login?next=/supervisor"; return; }
      setText(status, T("reconnecting…")); status.className = "status down";
      setStale(true, T("The page lost the service: figures below are from before."));
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
