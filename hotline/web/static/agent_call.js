"use strict";
// The agent's call control (hotline/web/agent/call_routes.py): hang up, mute, blind transfer to
// a queue or a colleague; hold is the phone's own, shown here. Buttons are enabled only while
// the agent is on a call; the state comes from agent.js's feed ("hotline:agent" events).
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const buttons = document.querySelectorAll("button[data-call]");
  const target = $("transfer-to");
  let call = null, muted = false, seen = null;

  function show(s) {
    call = s.call_id || null;
    muted = !!s.muted;
    buttons.forEach((b) => { b.disabled = !call || !!s.transferring; });
    target.disabled = !call || !!s.transferring;
    document.querySelector('button[data-call="mute"]').textContent = muted ? T("Unmute") : T("Mute");
    $("call-hold").hidden = !s.on_hold;
    const moving = $("call-transferring");
    moving.hidden = !s.transferring;
    moving.textContent = s.transferring ? T("Transferring to {target}…", { target: s.transferring }) : "";
  }
  function options(queues, agents) {
    const group = (label, items) => {
      const g = document.createElement("optgroup");
      g.label = label;
      for (const [value, text] of items) {
        const o = document.createElement("option");
        o.value = value; o.textContent = text; g.append(o);
      }
      return g;
    };
    const chosen = target.value;
    target.replaceChildren(
      group(T("Queues"), queues.map((q) => ["queue:" + q, q])),
      group(T("Colleagues"), agents.map((a) => ["agent:" + a.agent_id, a.name])));
    if (chosen) target.value = chosen;
  }
  async function refresh() {
    const res = await fetch("/page-api/agent/call", { credentials: "same-origin" });
    if (!res.ok) return;
    const s = await res.json();
    options(s.queues || [], s.agents || []);
    show(s);
  }
  async function act(action) {
    const body = { call_id: call };
    if (action === "mute") body.on = !muted;
    if (action === "transfer") {
      const [kind, name] = target.value.split(/:(.*)/s);
      body[kind] = name;
    }
    const res = await fetch("/page-api/agent/call/" + action, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    $("status").textContent = res.ok ? "" : data.error || res.statusText;
    if (res.ok) show(data);
  }
  buttons.forEach((b) => b.addEventListener("click", () => act(b.dataset.call)));
  // Each push of the agent's state (on every change, and each second): refresh when the state
  // or the call changed, and every 2 s on a call (hold is the phone's: no agent state tells it).
  document.addEventListener("hotline:agent", (ev) => {
    const a = ev.detail, tick = a.state === "on_call" ? Math.floor(a.time_in_state_s / 2) : "";
    const key = `${a.state}|${a.call_id || ""}|${tick}`;
    if (key !== seen) { seen = key; refresh(); }
  });
  refresh();
})();
