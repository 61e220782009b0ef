"use strict";
// Thresholds as the supervisor's page and the wallboard show them: each figure with its level
// from queues.yaml (hotline/web/supervisor/alerts.py), in colour AND in words with an icon, so
// the level is not told by colour alone. window.hotlineLevels = { figure, label, value, icon,
// levelText, since }.
(function () {
  const T = window.T || ((s) => s);
  const METRIC_LABELS = {
    service_level: () => T("service level"), longest_wait_s: () => T("longest wait"),
    abandon_rate: () => T("abandoned"), waiting: () => T("waiting"),
  };
  const ICON = { ok: "✓", warn: "▲", crit: "■" };
  function dur(v) {
    if (v === null || v === undefined) return "–";
    const t = Math.max(0, Math.round(v));
    if (t < 60) return T("{s} s", { s: t });
    if (t < 3600) return T("{m} min {s} s", { m: Math.floor(t / 60), s: t % 60 });
    return T("{h} h {m} min", { h: Math.floor(t / 3600), m: String(Math.floor((t % 3600) / 60)).padStart(2, "0") });
  }
  function value(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric === "service_level" || metric === "abandon_rate") return Math.round(v * 100) + "%";
    if (metric === "longest_wait_s") return dur(v);
    return String(v);
  }
  function levelText(level) { return level === "crit" ? T("critical") : level === "warn" ? T("warning") : T("ok"); }
  function limits(metric, shown) {
    const parts = [];
    if (shown.warn !== null && shown.warn !== undefined) parts.push(T("warning at {v}", { v: value(metric, shown.warn) }));
    if (shown.crit !== null && shown.crit !== undefined) parts.push(T("critical at {v}", { v: value(metric, shown.crit) }));
    return parts.join(", ");
  }
  // <span class="figure-level lvl-warn" title="warning at 60 s, critical at 2 min">
  //   longest wait <b>1 min 5 s</b> <span class="lvl-tag">▲ warning</span></span>
  function figure(metric, shown, opts) {
    const o = opts || {};
    const span = document.createElement("span");
    span.className = "figure-level lvl-" + shown.level;
    span.dataset.metric = metric;
    span.dataset.level = shown.level;
    span.title = limits(metric, shown);
    if (!o.bare) span.append(METRIC_LABELS[metric]() + " ");
    const b = document.createElement("b");
    const text = value(metric, shown.value);
    b.textContent = text;
    if (!/[\u0590-\u08FF]/.test(text)) { b.dir = "ltr"; b.className = "ltr-value"; }
    span.append(b);
    if (shown.level !== "ok" || o.always) {
      const tag = document.createElement("span");
      tag.className = "lvl-tag";
      tag.textContent = ICON[shown.level] + " " + levelText(shown.level);
      span.append(" ", tag);
    }
    return span;
  }
  window.hotlineLevels = {
    figure, value, dur, levelText, icon: (level) => ICON[level],
    label: (metric) => (METRIC_LABELS[metric] ? METRIC_LABELS[metric]() : metric),
  };
})();
