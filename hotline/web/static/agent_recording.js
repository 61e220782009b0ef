"use strict";
// The recording of the agent's call (hotline/web/recordings.py): shown beside the call control,
// paused while the customer gives a card number and resumed after (the recording keeps silence
// for that time). Enabled only while the agent's call is being recorded.
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const button = document.getElementById("recording-toggle");
  const shown = document.getElementById("recording-state");
  let call = null, paused = false, seen = null;

  function show(s) {
    call = s.call_id || null;
    paused = !!s.paused;
    button.disabled = !call || !s.recording;
    button.textContent = paused ? T("Resume recording") : T("Pause recording");
    shown.hidden = !call;
    shown.classList.toggle("pending", paused);
    shown.textContent = !s.recording ? T("Not recorded") : paused ? T("Recording paused") : T("Recording");
  }
  async function refresh() {
    const res = await fetch("/page-api/agent/call/recording", { credentials: "same-origin" });
    if (res.ok) show(await res.json());
  }
  async function toggle() {
    const action = paused ? "resume" : "pause";
    const res = await fetch("/page-api/agent/call/recording/" + action, { method: "POST",
      credentials: "same-origin", headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ call_id: call }) });
    const data = await res.json().catch(() => ({}));
    document.getElementById("status").textContent = res.ok ? "" : data.error || res.statusText;
    if (res.ok) show(data);
    else refresh();
  }
  button.addEventListener("click", toggle);
  // The agent's state and call come from agent.js's feed: refresh when either changes.
  document.addEventListener("hotline:agent", (ev) => {
    const key = `${ev.detail.state}|${ev.detail.call_id || ""}`;
    if (key !== seen) { seen = key; refresh(); }
  });
  refresh();
})();
