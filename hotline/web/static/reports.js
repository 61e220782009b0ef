"use strict";
// The reports page: the form asks /reports/data for the table (cells as the server shows
// them, the same cells as the CSV), draws one inline SVG chart of a figure per period and
// group, and points the CSV link at the same query.
(function () {
  const form = document.getElementById("report-form");
  const from = document.getElementById("report-from");
  const to = document.getElementById("report-to");
  const grain = document.getElementById("report-grain");
  const by = document.getElementById("report-by");
  const metric = document.getElementById("report-metric");
  const csv = document.getElementById("report-csv");
  const status = document.getElementById("report-status");
  const table = document.getElementById("report-table");
  const chart = document.getElementById("report-chart");
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = ["#234", "#3c8d4f", "#c0504d", "#7a9cc6", "#d08c2a", "#7b4fa0", "#2a9d9d", "#888"];
  let shown = null;

  function iso(d) { return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10); }
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function svg(tag, attrs, title) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (title) { const t = document.createElementNS(SVG, "title"); t.textContent = title; e.append(t); }
    return e;
  }
  function query() {
    return new URLSearchParams({ from: from.value, to: to.value, grain: grain.value, by: by.value }).toString();
  }

  function renderTable(data) {
    const head = el("tr");
    for (const c of data.columns) head.append(el("th", T(c.title)));
    table.tHead.replaceChildren(head);
    const rows = data.rows.map((r) => {
      const tr = el("tr", null, { class: r.total ? "total" : "" });
      r.cells.forEach((cell, i) => {
        const td = el("td", null, i > 1 ? { class: "num" } : {});
        if (i === 1 && r.total) td.textContent = T("all");
        else if (cell !== "" && cell != null) td.append(LTR(cell));  // empty: "–" (the CSS)
        tr.append(td);
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
  }

  function renderChart(data) {
    const key = metric.value;
    const kind = (data.columns.find((c) => c.key === key) || {}).kind;
    const labels = [...new Set(data.rows.map((r) => r.label))];
    const groups = [...new Set(data.rows.map((r) => r.group))].slice(0, COLOURS.length);
    const W = Math.max(600, Math.min(1180, 80 + labels.length * 80)), H = 220, L = 44, B = 40, T0 = 10;
    let max = 0;
    for (const r of data.rows) { const v = r.values[key]; if (v !== null && v > max) max = v; }
    if (kind === "ratio") max = Math.max(max, 1);
    if (max <= 0) max = 1;
    const x = (i) => L + (labels.length === 1 ? (W - L) / 2 : (i * (W - L - 40)) / (labels.length - 1));
    const y = (v) => H - B - (v / max) * (H - B - T0);
    const fmt = (v) => (kind === "ratio" ? Math.round(v * 100) + "%" : String(Math.round(v)));
    const s = svg("svg", { class: "chart report", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": T("chart"), direction: "ltr" });
    s.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
    for (const f of [0, 0.5, 1]) {
      const t = svg("text", { x: L - 4, y: y(max * f) + 3, "text-anchor": "end", class: "tick" });
      t.textContent = fmt(max * f); s.append(t);
    }
    const every = Math.max(1, Math.ceil((labels.length * 80) / (W - L)));
    labels.forEach((label, i) => {
      if (i % every) return;
      const t = svg("text", { x: x(i), y: H - B + 14, "text-anchor": "middle", class: "tick" });
      t.textContent = label.length > 10 ? label.slice(5) : label; s.append(t);
    });
    const legend = el("p", null, { class: "legend" });
    groups.forEach((g, gi) => {
      const colour = COLOURS[gi];
      const points = [];
      labels.forEach((label, i) => {
        const r = data.rows.find((row) => row.label === label && row.group === g);
        const v = r ? r.values[key] : null;
        if (v === null || v === undefined) return;
        points.push(`${x(i)},${y(v)}`);
        s.append(svg("circle", { cx: x(i), cy: y(v), r: 3, fill: colour }, `${label} ${g}: ${fmt(v)}`));
      });
      if (points.length > 1) s.insertBefore(svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 1.5 }), s.children[1]);
      const item = el("span", null, { class: "series" });
      // a swatch drawn in SVG: the page's CSP allows no inline style
      const swatch = svg("svg", { width: 12, height: 12, class: "swatch" });
      swatch.append(svg("rect", { width: 12, height: 12, fill: colour }));
      item.append(swatch, " ", g === "all" ? T("all") : LTR(g));
      legend.append(item, " ");
    });
    chart.replaceChildren(s, legend);
  }

  async function show() {
    const q = query();
    status.textContent = T("loading…");
    const response = await fetch("/reports/data?" + q, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      status.textContent = T("not shown: {reason}", { reason: await response.text() });
      return;
    }
    shown = await response.json();
    // the CSV of exactly these figures: today's, as they were when the page got them
    csv.href = "/reports/export.csv?" + q + "&" + new URLSearchParams({ as_of: shown.as_of }).toString();
    renderTable(shown);
    renderChart(shown);
    status.textContent = T("{n} rows, {events} events read in {s} s", { n: shown.rows.length, events: shown.events, s: shown.wall_s });
  }

  const today = new Date();
  to.value = iso(today);
  from.value = iso(new Date(today.getTime() - 6 * 86400000));
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  metric.addEventListener("change", () => { if (shown) renderChart(shown); });
  for (const input of [from, to, grain, by]) input.addEventListener("change", () => { csv.href = "/reports/export.csv?" + query(); });
  show();
})();
