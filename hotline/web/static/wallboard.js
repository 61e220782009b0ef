"use strict";
// The wallboard: per queue the big figures a room reads from across it (waiting, longest
// wait, service level today, agents available and busy), coloured by queues.yaml's
// thresholds with an icon and a word, live over its own small feed (/ws/wallboard:
// hotline/web/supervisor/wallboard.py; no interaction), on a dark wall-screen theme fitted
// to the screen (a 1920×1080 display shows every queue).
document.body.classList.add("wallboard");
(function () {
  const L = () => window.hotlineLevels;
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function isolated(text) { const b = el("b", text, { class: "wb-value" }); if (!/[\u0590-\u08FF]/.test(text)) b.dir = "ltr"; return b; }
  function figure(label, text, level, neutral) {
    const d = el("div", null, { class: "wb-figure lvl-" + (level || "ok") + (neutral ? " wb-neutral" : ""), "data-level": level || "ok" });
    d.append(isolated(text), el("span", label, { class: "wb-label" }));
    if (level && level !== "ok") d.append(el("span", L().icon(level) + " " + L().levelText(level), { class: "wb-tag" }));
    return d;
  }
  // a wait read across a room: "42 s" under a minute, then "3:19" (one line, any language)
  function waited(s) {
    if (s === null || s === undefined || s < 60) return L().value("longest_wait_s", s);
    const whole = Math.round(s), h = Math.floor(whole / 3600), m = Math.floor(whole / 60) % 60, sec = whole % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
  }
  function card(q) {
    const voice = (q.channels || {}).voice || {};
    const get = (m) => voice[m] || { value: null, level: "ok" };
    const section = el("section", null, { class: "wb-queue", "data-queue": q.name, "data-level": q.level || "ok" });
    const h = el("h2");
    h.append(el("span", q.name, { dir: "ltr" }));
    if (q.level && q.level !== "ok") h.append(el("span", L().icon(q.level) + " " + L().levelText(q.level), { class: "wb-level" }));
    const figures = el("div", null, { class: "wb-figures" });
    const waiting = get("waiting"), longest = get("longest_wait_s"), sl = get("service_level");
    figures.append(
      figure(T("waiting"), String(waiting.value ?? 0), waiting.level),
      figure(T("longest wait"), waited(longest.value), longest.level),
      figure(T("service level today"), L().value("service_level", sl.value), sl.level),
    );
    const s = q.agents || { free: 0, busy: 0, paused: 0 };
    // nobody free while someone waits is as bad as it gets; nobody free and nobody waiting is not
    const short = !s.free && (waiting.value || 0) > 0;
    figures.append(figure(T("agents available"), String(s.free), short ? "crit" : "ok", !short));
    const staff = el("p", null, { class: "wb-agents" });
    staff.append(el("b", String(s.busy), { dir: "ltr" }), " ", T("busy"), " · ", el("b", String(s.paused), { dir: "ltr" }), " ", T("paused"));
    // other channels with something waiting: one line
    for (const [ch, shown] of Object.entries(q.channels || {})) {
      if (ch === "voice" || !shown.waiting || !shown.waiting.value) continue;
      staff.append(" · ", T(ch), " ", el("b", String(shown.waiting.value), { dir: "ltr" }));
      if (shown.waiting.level !== "ok" || shown.longest_wait_s.level !== "ok") staff.append(" ", L().icon(shown.longest_wait_s.level === "crit" || shown.waiting.level === "crit" ? "crit" : "warn"));
    }
    section.append(h, figures, staff);
    return section;
  }
  function fit(n) {
    const box = document.getElementById("wb-queues");
    // upright (a tablet, a portrait screen): two queues a row at most
    const upright = innerHeight > innerWidth;
    const cols = upright ? Math.min(Math.max(n, 1), 2) : n <= 3 ? Math.max(n, 1) : n <= 6 ? 3 : n <= 8 ? 4 : 5;
    const rows = Math.max(1, Math.ceil(n / cols));
    box.style.setProperty("--cols", cols);
    box.style.setProperty("--figure", Math.min(9, 30 / rows / (cols > 3 ? 1.25 : 1)).toFixed(2) + "vh");
    // and by width: two figures side by side in a card
    box.style.setProperty("--figure-w", (15 / cols).toFixed(2) + "vw");
  }
  function render(s) {
    const queues = s.queues || [];
    fit(queues.length);
    document.getElementById("wb-queues").replaceChildren(...queues.map(card));
    const alerts = s.alerts || [];
    document.getElementById("wb-alerts").replaceChildren(...alerts.map((a) => {
      const li = el("li", null, { class: "lvl-" + a.level });
      li.append(L().icon(a.level) + " ", el("span", a.queue, { dir: "ltr" }), " · ", L().label(a.metric), " ", el("b", L().value(a.metric, a.value), { dir: "ltr" }));
      return li;
    }));
    const status = document.getElementById("wb-status");
    const link = s.telephony;
    const live = !link || link.live;
    status.textContent = live ? T("live") : T("Asterisk down");
    status.className = "wb-status " + (live ? "live" : "down");
    document.getElementById("wb-clock").textContent = new Date((s.server_time || Date.now() / 1000) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  let delay = 500, last = 0;
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/wallboard");
    ws.onopen = () => { delay = 500; };
    ws.onmessage = (m) => { last = Date.now(); render(JSON.parse(m.data)); };
    ws.onclose = () => {
      const status = document.getElementById("wb-status");
      status.textContent = T("reconnecting…"); status.className = "wb-status down";
      setTimeout(connect, delay); delay = Math.min(delay * 2, 10000);
    };
  }
  setInterval(() => {
    if (last && Date.now() - last > 5000) { const s = document.getElementById("wb-status"); s.textContent = T("reconnecting…"); s.className = "wb-status down"; }
  }, 1000);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect); else connect();
})();
