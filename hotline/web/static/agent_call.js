"use strict";
// The agent's call control (hotline/web/agent/call_routes.py): hang up, mute, hold and resume
// (the caller hears music on hold; H on the keyboard), blind transfer to a queue or a colleague.
// A hold from the agent's phone is shown here too; only the phone resumes it. Buttons are enabled
// only while the agent is on a call; the state comes from agent.js's feed ("hotline:agent" events).
// Consult (center/consult.py): pick a colleague (those with the call's skills, available first,
// then the most skilled), Consult rings them while the caller holds; then Complete (the caller
// to the colleague), Cancel (back to the caller) or Conference (all three). Each button is
// enabled only in the step where it makes sense.
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const buttons = document.querySelectorAll("button[data-call]");
  const target = $("transfer-to");
  let call = null, muted = false, deskHold = false, seen = null;
  // The consult row, built here (agent.html is another page's): after the call control row.
  const row = document.createElement("p");
  row.className = "actions";
  row.id = "call-consult";
  const who = document.createElement("select");
  who.id = "consult-with";
  who.setAttribute("aria-label", T("Colleague to consult"));
  const steps = {};
  for (const [step, label] of [["consult", T("Consult")], ["complete", T("Complete transfer")],
    ["cancel", T("Cancel consult")], ["conference", T("Conference")]]) {
    const b = document.createElement("button");
    b.type = "button"; b.dataset.consult = step; b.textContent = label; b.disabled = true;
    b.addEventListener("click", () => act(step));
    steps[step] = b;
  }
  const consulting = document.createElement("span");
  consulting.id = "call-consulting";
  consulting.hidden = true;
  row.append(who, " ", steps.consult, " ", steps.complete, " ", steps.cancel, " ", steps.conference, " ",
    consulting);
  $("call-control").after(row);

  function show(s) {
    call = s.call_id || null;
    muted = !!s.muted;
    buttons.forEach((b) => { b.disabled = !call || !!s.transferring; });
    target.disabled = !call || !!s.transferring;
    document.querySelector('button[data-call="mute"]').textContent = muted ? T("Unmute") : T("Mute");
    deskHold = !!s.desk_hold;
    const hold = document.querySelector('button[data-call="hold"]');
    hold.textContent = deskHold ? T("Resume") : T("Hold");
    $("call-hold").hidden = !s.on_hold;
    $("call-hold").textContent = deskHold ? T("The caller is on hold (music)") : T("On hold (your phone)");
    if ("consult_enabled" in s) {  // waiting.yaml consult: false (hold goes with it)
      row.hidden = !s.consult_enabled;
      hold.hidden = !s.consult_enabled;
    }
    // consult: Consult with nobody consulted; Complete/Cancel/Conference while consulting
    const phase = call ? s.consult_phase || null : null;
    // the phone's hold is the phone's to resume; a consult already holds the caller
    if (phase || (s.on_hold && !deskHold)) hold.disabled = true;
    who.disabled = !call || !!phase || !!s.transferring || deskHold;
    steps.consult.disabled = who.disabled || !who.value;
    steps.complete.disabled = steps.cancel.disabled = steps.conference.disabled = phase !== "consulting";
    consulting.hidden = !phase;
    consulting.textContent = phase === "conference"
      ? T("In conference with {agent}", { agent: s.consulting })
      : phase ? T("Consulting {agent}; the caller is on hold", { agent: s.consulting }) : "";
    // while consulting, hanging up or transferring would complete the consult behind hotline's back
    if (deskHold) target.disabled = document.querySelector('button[data-call="transfer"]').disabled = true;
    if (phase === "consulting") {
      buttons.forEach((b) => { if (b.dataset.call !== "mute") b.disabled = true; });
      target.disabled = true;
    }
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
  function candidates(list) {
    const chosen = who.value;
    who.replaceChildren(...list.map((c) => {
      const o = document.createElement("option");
      o.value = c.agent_id;
      o.textContent = T("{name} (level {level}, {state})", { name: c.name, level: c.level, state: T(c.state) });
      return o;
    }));
    if (chosen && list.some((c) => c.agent_id === chosen)) who.value = chosen;
  }
  async function refresh() {
    const res = await fetch("/page-api/agent/call", { credentials: "same-origin" });
    if (!res.ok) return;
    const s = await res.json();
    options(s.queues || [], s.agents || []);
    candidates(s.consult || []);
    show(s);
  }
  async function act(action) {
    if (action === "hold" && deskHold) action = "resume";
    const body = { call_id: call };
    if (action === "mute") body.on = !muted;
    if (action === "consult") body.agent = who.value;
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
