"use strict";
// The agent's page: its own state pushed over a WebSocket; the screen-pop is fetched once
// when a new call is offered (an event, not a polling loop). The state bar: the state the
// server says, its timers counted on from the server's figures between two pushes, only the
// actions that make sense in that state enabled, pause reasons from agents.yaml (with what is
// left of each today). Keyboard shortcuts (? shows them) and an alert when work is offered
// (a notification when permitted, a short tone, the tab's title blinking): window.hotlineAlert.
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
  // pause reasons and wrap-up codes (agents.yaml) -------------------------------------------
  let options = { pause_reasons: [], dispositions: [], queues: [], colleagues: [] };
  function minutes(s) { return s >= 3600 ? T("{h} h", { h: +(s / 3600).toFixed(1) }) : T("{m} min", { m: Math.round(s / 60) }); }
  async function loadOptions() {
    const res = await fetch("/page-api/agent/options", { credentials: "same-origin" }).catch(() => null);
    if (!res || !res.ok) return options;
    options = await res.json();
    const select = $("pause-reason"), free = !options.pause_reasons.length;
    select.hidden = free;
    $("pause-text").hidden = !free;
    const chosen = select.value;
    select.replaceChildren(...options.pause_reasons.map((r) => {
      const o = el("option", label(r.reason));
      o.value = r.reason;
      const bits = [];
      if (r.max_s) bits.push(T("up to {t}", { t: minutes(r.max_s) }));
      if (r.per_day) {
        const left = Math.max(0, r.per_day - r.taken_today);
        bits.push(T("{n} left today", { n: left }));
        o.disabled = left === 0;
      }
      if (bits.length) o.textContent += " · " + bits.join(" · ");
      return o;
    }));
    if (chosen && [...select.options].some((o) => o.value === chosen && !o.disabled)) select.value = chosen;
    else { const first = [...select.options].find((o) => !o.disabled); if (first) select.value = first.value; }
    document.dispatchEvent(new CustomEvent("hotline:options", { detail: options })); // agent_desk.js
    return options;
  }
  window.hotlineOptions = () => options;
  window.hotlineReloadOptions = loadOptions;
  function pauseReason() { return options.pause_reasons.length ? $("pause-reason").value : $("pause-text").value.trim(); }
  document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", async () => {
    if (b.disabled) return;
    const action = b.dataset.action;
    await post("/page-api/agent/" + action, action === "pause" ? { reason: pauseReason() } : {});
    if (action === "pause" || action === "login") loadOptions();
  }));

  // which actions make sense now (the server's state; the server refuses the rest anyway) -----
  function enable(a) {
    const state = a ? a.state : "logged_out", pending = a && a.pending;
    const can = {
      login: state === "logged_out",
      ready: state === "paused" || state === "wrap_up" || (!!pending && (state === "offered" || state === "on_call")),
      pause: state !== "logged_out" && !(pending && pending.action === "pause"),
      "wrapup-done": state === "wrap_up",
      logout: state !== "logged_out" && !(pending && pending.action === "logout"),
    };
    document.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = !can[b.dataset.action]; });
    const ready = document.querySelector('button[data-action="ready"]');
    ready.textContent = pending && (state === "offered" || state === "on_call") ? T("Cancel the pending pause") : T("Ready");
    $("pause-reason").disabled = $("pause-text").disabled = !can.pause;
    $("agent").dataset.state = state;
    $("no-call").hidden = state === "on_call" || state === "offered";
  }
  enable(null);

  // timers: the server's figures, counted on between two pushes -------------------------------
  let timers = null, timersAt = 0, live = null;
  function clock(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
  }
  function showTimers() {
    if (!timers) return;
    const gone = (performance.now() - timersAt) / 1000;
    for (const box of document.querySelectorAll("#timers .timer")) {
      const key = box.dataset.timer, v = timers[key];
      box.hidden = v === null || v === undefined || (key === "hold_total_s" && !v);
      if (box.hidden) continue;
      // a total runs on only while it is running (the hold total while on hold)
      const runs = key !== "hold_total_s" || timers.hold_s !== null;
      let text = clock(v + (runs ? gone : 0));
      if (key === "pause_s" && live && live.pause_max_s) text += " / " + clock(live.pause_max_s);
      box.querySelector("dd").textContent = text;
      box.classList.toggle("over", key === "pause_s" && !!live && (live.pause_over || (!!live.pause_max_s && v + gone > live.pause_max_s)));
    }
  }
  setInterval(showTimers, 250);

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
  function renderCustomer(c, ivr, caller, box) {
    box = box || $("pop-customer");
    if (!c) {
      const who = caller && caller.customer_name ? caller.customer_name : T("Unknown caller");
      box.replaceChildren(el("p", who, "unknown"));
      return;
    }
    const head = el("p", null, "customer");
    head.append(el("b", c.name || T("no name on record")), " ", el("span", T("tier {tier}", { tier: c.tier ? label(c.tier) : (ivr && ivr.tier) || "–" }), "tier"));
    const ids = el("p", null, "identities");
    ids.append(T("customer"), " ", ltr("#" + c.id));
    // a web chat's visitor id means nothing to the agent: not shown
    for (const i of c.identities || []) if (i.kind !== "chat") ids.append(" · ", ltr(i.value, T(i.kind)));
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
  function renderIssues(issues, list) {
    list = list || $("pop-issues");
    if (!issues || !issues.length) { list.replaceChildren(el("li", T("none"), "empty")); return; }
    list.replaceChildren(...issues.map((i) => { const li = el("li"); li.append(...contactParts(i, i.agent_name)); return li; }));
  }
  function renderTimeline(entries, list, current) {
    list = list || $("pop-timeline");
    if (!entries || !entries.length) { list.replaceChildren(el("li", T("No earlier contact."), "empty")); return; }
    list.replaceChildren(...entries.map((e) => {
      const li = el("li", null, e.current ? "current" : "");
      li.append(...contactParts(e.interaction, e.agent_name));
      if (e.current) li.append(" ", el("span", current || T("this call"), "this-call"));
      (e.notes || []).forEach((n, i) => {
        const note = el("blockquote", null, "note");
        note.append(el("bdi", n.body), " ", el("cite", (e.note_authors || [])[i] || n.author));
        li.append(note);
      });
      return li;
    }));
  }
  // the same customer card, open issues and timeline beside a chat or an e-mail (agent_desk.js)
  window.hotlineHistory = { customer: renderCustomer, issues: renderIssues, timeline: renderTimeline };
  // wrap-up codes: the call's queue's (a select), or free text when none is configured
  function codes(list) {
    const select = $("wrapup-code");
    select.hidden = !list.length;
    $("wrapup-text").hidden = !!list.length;
    select.replaceChildren(el("option", T("(none)")), ...list.map((c) => { const o = el("option", label(c)); o.value = c; return o; }));
    select.options[0].value = "";
  }
  codes([]);
  async function pop(callId) {
    const res = await fetch("/page-api/agent/calls/" + encodeURIComponent(callId), { credentials: "same-origin" });
    if (!res.ok) return;
    const p = await res.json();
    $("pop").hidden = false;
    codes(p.dispositions || []);
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
    const code = $("wrapup-code").hidden ? f.get("disposition-text") : f.get("disposition");
    const ok = await post(`/page-api/agent/calls/${encodeURIComponent(currentCall)}/wrapup`,
      { disposition: code, status: f.get("status"), note: f.get("note") });
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
      $("state").textContent = window.agentWork(a); // "available · 2 chats · 1 e-mail"
      $("state").dataset.state = a.state;
      $("since").textContent = T("for {s} s", { s: Math.round(a.time_in_state_s) });
      $("reason").textContent = a.pause_reason ? label(a.pause_reason) : "";
      const wasState = live && live.state;
      live = a;
      timers = a.timers || { state_s: a.time_in_state_s };
      timersAt = performance.now();
      showTimers();
      enable(a);
      const over = $("pause-over");
      over.hidden = !a.pause_over;
      over.textContent = a.pause_over ? T("Your {reason} has passed its {t}.", { reason: label(a.pause_reason), t: minutes(a.pause_max_s) }) : "";
      if (a.state === "offered" && wasState !== "offered") window.hotlineAlert(T("A call for you"), T("Your phone is ringing."));
      if (a.state !== wasState && (a.state === "paused" || wasState === "logged_out")) loadOptions();
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
  loadOptions();

  // an alert when work is offered: a notification (when permitted), a tone, the title blinking
  const title = document.title;
  let blink = null, audio = null;
  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t0 = audio.currentTime;
      for (const [i, f] of [[0, 880], [1, 1175]]) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = f;
        gain.gain.setValueAtTime(0.0001, t0 + i * 0.18);
        gain.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.18 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.18 + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(t0 + i * 0.18);
        osc.stop(t0 + i * 0.18 + 0.17);
      }
    } catch (e) { /* no audio here: the title and the notification still tell */ }
  }
  function stopBlink() { if (blink) { clearInterval(blink); blink = null; } document.title = title; }
  window.hotlineAlert = function (what, detail) {
    tone();
    stopBlink();
    let on = false;
    const flash = "● " + what;
    document.title = flash;
    blink = setInterval(() => { on = !on; document.title = on ? title : flash; }, 1000);
    if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
      try { const n = new Notification(what, { body: detail || "", tag: "hotline-offer" }); n.onclick = () => { window.focus(); n.close(); }; } catch (e) { /* not here */ }
    }
  };
  window.hotlineAlertDone = stopBlink;
  window.addEventListener("focus", () => { if (document.visibilityState === "visible") setTimeout(stopBlink, 3000); });
  // the browser asks for permission only after a gesture of the agent's: their first click or key
  function askOnce() {
    document.removeEventListener("click", askOnce, true);
    document.removeEventListener("keydown", askOnce, true);
    if ("Notification" in window && Notification.permission === "default") {
      try { Notification.requestPermission().catch(() => {}); } catch (e) { /* old API */ }
    }
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { /* no audio */ }
    }
  }
  document.addEventListener("click", askOnce, true);
  document.addEventListener("keydown", askOnce, true);

  // keyboard shortcuts (? shows them); never while typing in a box --------------------------
  const help = $("help");
  $("help-open").addEventListener("click", () => help.showModal());
  function press(selector) { const b = document.querySelector(selector); if (b && !b.disabled) { b.click(); return true; } return false; }
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    const t = ev.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    if (help.open && ev.key !== "?") return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const done =
      key === "?" ? (help.open ? help.close() : help.showModal(), true)
      : key === "a" ? press("#desk-offers .offer button.accept")
      : key === "d" ? press("#desk-offers .offer button.decline")
      : key === "r" ? press('button[data-action="ready"]')
      : key === "p" ? press('button[data-action="pause"]')
      : key === "w" ? press('button[data-action="wrapup-done"]')
      : key === "l" ? press('button[data-action="login"]')
      : key === "h" ? press('button[data-call="hold"]')
      : false;
    if (done) ev.preventDefault();
  });
})();
