"use strict";
// What an agent holds on each channel, said the same way on the agent's page and in the
// supervisor's agents table: "available · 2 chats · 1 e-mail", "busy · 3 chats" (ready, but
// nothing more can be offered: at their capacity, or their phone busy), "on call · 1 chat".
// The row's fields are hotline/web/supervisor/live_view.py's (state, tasks, offered, busy).
(function () {
  const T = window.T || ((s) => s);
  function named(text) { const t = T(text); return t === text ? String(text).replace(/_/g, " ") : t; }
  function held(channel, n) {
    if (channel === "chat") return n === 1 ? T("1 chat") : T("{n} chats", { n: n });
    if (channel === "email") return n === 1 ? T("1 e-mail") : T("{n} e-mails", { n: n });
    if (channel === "voicemail") return n === 1 ? T("1 voicemail") : T("{n} voicemails", { n: n });
    return T("{channel}: {n}", { channel: named(channel), n: n });
  }
  window.agentWork = function (a) {
    const parts = [a.busy && a.state === "available" ? T("busy") : named(a.state)];
    for (const [channel, n] of Object.entries(a.tasks || {})) parts.push(held(channel, n));
    if (a.offered) parts.push(T("{n} offered", { n: a.offered }));
    return parts.join(" · ");
  };
})();
