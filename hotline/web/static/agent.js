"use strict";
// The agent's page: its own state pushed over a WebSocket; the screen-pop is fetched once
// when a new call is offered (an event, not a polling loop).
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let currentCall = null;
  function el(tag, text) { const e = document.createElement(tag); if (text != null) e.textContent = String(text); return e; }
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
  async function pop(callId) {
    const res = await fetch("/page-api/agent/calls/" + encodeURIComponent(callId), { credentials: "same-origin" });
    if (!res.ok) return;
    const p = await res.json();
    $("pop").hidden = false; $("pop-call").textContent = callId;
    const ivr = p.ivr || {};
    $("pop-ivr").replaceChildren(el("p", `${T("Intent")}: ${ivr.intent || "–"} · ${T("type")}: ${ivr.call_type || "–"} · ${T("tier")}: ${ivr.tier || "–"} · ${T("language")}: ${ivr.language || "–"}`));
    const c = p.customer;
    $("pop-customer").replaceChildren(el("p", c ? `${T("Customer")} #${c.id} ${c.name || ""} · ${T("tier")} ${c.tier || "–"} · ${(c.identities || []).map((i) => i.value).join(", ")}` : T("Unknown caller")));
    $("pop-timeline").replaceChildren(...(p.timeline || []).map((e) => {
      const i = e.interaction;
      return el("li", `${i.started_at} ${i.channel} ${i.intent || ""} ${T(i.status)} ${i.disposition || ""} ${(e.notes || []).map((n) => n.body).join(" / ")}`);
    }));
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
      $("state").textContent = T(a.state);
      $("since").textContent = T("for {s} s", { s: Math.round(a.time_in_state_s) });
      $("reason").textContent = a.pause_reason ? `(${T(a.pause_reason)})` : "";
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
