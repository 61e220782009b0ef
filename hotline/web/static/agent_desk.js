"use strict";
// The agent's chats and e-mails (any channel the conversation desk routes): offers with the
// reservation's countdown and Accept / Decline; accepted conversations side by side, each
// with its thread, the customer's typing, delivery ticks on the agent's messages, a reply box
// (Enter sends, Shift+Enter is a new line) and Close as resolved / postponed. A voicemail or
// a follow-up (card.work) has no reply box: its recording plays in an <audio> player, and the
// agent adds a note or books a callback. Canned responses (agents.yaml, filled for the
// conversation by the server) from a picker or by typing /key in the reply box; Ctrl+Enter
// sends too. A conversation is transferred to a queue or a colleague who takes its channel
// (agent.js's options); it leaves this page. Live over /ws/agent/desk; every action is a POST
// with the page's CSRF token. Text is text.
(function () {
  const T = window.T || ((s) => s);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const lang = document.documentElement.lang || "en";
  const TYPING_IDLE_MS = 3000, TYPING_SHOWN_MS = 8000;
  const offers = new Map(); // conversation id -> {li, timer}
  const chats = new Map();  // conversation id -> {box, thread, byId, typingTimer, card}
  let ws = null, delay = 500;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function label(name) { const t = T(name); return t === name ? String(name).replace(/_/g, " ") : t; }
  function ltr(text) { const s = el("span", text, "ltr-value"); return s; }
  function said(text) { const p = el("p", text, "text"); p.dir = "auto"; return p; }
  function error(text) { $("desk-error").textContent = text || ""; }
  function empty() { $("desk-empty").hidden = offers.size + chats.size > 0; }
  async function post(path, body) {
    const res = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify(body || {}) })
      .catch(() => null);
    if (!res) { error(T("The service is not answering.")); return null; }
    if (res.status === 401) { location.href = "/login?next=/agent"; return null; }
    const data = await res.json().catch(() => ({}));
    error(res.ok ? "" : data.error || res.statusText);
    return res.ok ? data : null;
  }
  function api(id, action) { return "/page-api/agent/conversations/" + encodeURIComponent(id) + "/" + action; }
  function wsSend(frame) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame)); }

  // who and what a conversation is about --------------------------------------------------
  function badge(channel) { return el("span", label(channel), "channel-badge " + channel); }
  function who(card) {
    const c = card.customer || {};
    const parts = [el("span", c.name || T("Visitor"), "who")];
    if (c.email) parts.push(" ", ltr(c.email));
    return parts;
  }
  function about(card) {
    const bits = [];
    if (card.queue) bits.push(T("queue {queue}", { queue: label(card.queue) }));
    if (card.intent) bits.push(label(card.intent));
    if (card.customer && card.customer.tier) bits.push(T("tier {tier}", { tier: label(card.customer.tier) }));
    return el("span", bits.join(" · "), "about");
  }
  function subject(card) {
    if (!card.subject) return null;
    const s = el("span", null, "subject");
    s.append(T("Subject:") + " ", Object.assign(el("bdi", card.subject), { dir: "auto" }));
    return s;
  }

  // offers ---------------------------------------------------------------------------------
  function offer(card) {
    drop(card.conversation);
    const li = el("li", null, "offer");
    li.dataset.conversation = card.conversation;
    const head = el("div");
    head.append(badge(card.channel), ...who(card));
    li.append(head);
    const s = subject(card);
    if (s) li.append(s);
    const last = [...card.thread].reverse().find((m) => m.from === "customer" || (card.work && m.from === "system"));
    const preview = said(last ? last.text : "");
    preview.className = "preview";
    li.append(preview);
    const countdown = el("span", "", "countdown");
    const accept = el("button", T("Accept"), "accept");
    const decline = el("button", T("Decline"), "decline");
    accept.type = decline.type = "button";
    const buttons = el("div", null, "buttons");
    buttons.append(accept, decline, countdown);
    li.append(about(card));
    const moved = transferredNote(card);
    if (moved) li.append(moved);
    li.append(buttons);
    const ends = Date.now() + (card.deadline_s || 0) * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
      countdown.textContent = T("{s} s left to accept", { s: left });
      countdown.classList.toggle("late", left <= 5);
      if (left <= 0) { accept.disabled = decline.disabled = true; }
    };
    tick();
    const timer = setInterval(tick, 250);
    accept.addEventListener("click", async () => {
      accept.disabled = decline.disabled = true;
      if (!(await post(api(card.conversation, "accept")))) { accept.disabled = decline.disabled = false; }
    });
    decline.addEventListener("click", async () => {
      accept.disabled = decline.disabled = true;
      if (await post(api(card.conversation, "decline"))) drop(card.conversation);
    });
    offers.set(card.conversation, { li: li, timer: timer });
    $("desk-offers").append(li);
    empty();
    if (window.hotlineAlert) {
      const c = card.customer || {};
      window.hotlineAlert(card.channel === "email" ? T("An e-mail for you") : T("A chat for you"), c.name || "");
    }
  }
  function transferredNote(card) {
    if (!card.transferred_by) return null;
    return el("p", T("Transferred to you by {agent}", { agent: card.transferred_by }), "transferred");
  }
  function drop(id) {
    const o = offers.get(id);
    if (o) { clearInterval(o.timer); o.li.remove(); offers.delete(id); }
    if (!offers.size && window.hotlineAlertDone) window.hotlineAlertDone();
    empty();
  }

  // canned responses: a picker, and /key typed at the start of the reply box -----------------
  function cannedTools(card, text) {
    const list = card.canned || [];
    const picker = el("select", null, "canned-picker");
    picker.setAttribute("aria-label", T("Canned response"));
    picker.append(Object.assign(el("option", T("Canned response…")), { value: "" }));
    for (const c of list) picker.append(Object.assign(el("option", "/" + c.key + " · " + c.text.slice(0, 40)), { value: c.key }));
    picker.hidden = !list.length;
    const suggest = el("ul", null, "canned-suggest");
    suggest.hidden = true;
    suggest.setAttribute("role", "listbox");
    let shown = [], at = 0;
    const insert = (c) => {
      const slash = text.value.match(/(^|\s)\/[\w-]*$/);
      text.value = slash ? text.value.slice(0, text.value.length - slash[0].length) + slash[1] + c.text : (text.value ? text.value + " " : "") + c.text;
      suggest.hidden = true;
      text.focus();
      text.dispatchEvent(new Event("input"));
    };
    picker.addEventListener("change", () => {
      const c = list.find((x) => x.key === picker.value);
      if (c) insert(c);
      picker.value = "";
    });
    const render = () => {
      suggest.replaceChildren(...shown.map((c, i) => {
        const li = el("li", null, i === at ? "chosen" : "");
        li.setAttribute("role", "option");
        li.append(el("b", "/" + c.key), " ", el("span", c.text));
        li.addEventListener("mousedown", (ev) => { ev.preventDefault(); insert(c); });
        return li;
      }));
      suggest.hidden = !shown.length;
    };
    text.addEventListener("input", () => {
      const m = text.value.match(/(?:^|\s)\/([\w-]*)$/);
      shown = m ? list.filter((c) => c.key.startsWith(m[1].toLowerCase())) : [];
      at = 0;
      render();
    });
    text.addEventListener("keydown", (ev) => {
      if (suggest.hidden) return;
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        at = (at + (ev.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
        render();
      } else if ((ev.key === "Enter" && !ev.ctrlKey) || ev.key === "Tab") {
        ev.preventDefault();
        ev.stopImmediatePropagation();
        insert(shown[at]);
      } else if (ev.key === "Escape") { suggest.hidden = true; }
    });
    return { picker, suggest };
  }

  // transfer: to a queue or to a colleague logged in who takes this channel -------------------
  function transferTools(card) {
    const box = el("span", null, "transfer");
    const target = el("select");
    target.setAttribute("aria-label", T("Transfer to"));
    const go = el("button", T("Transfer"));
    go.type = "button";
    const fill = () => {
      const o = window.hotlineOptions ? window.hotlineOptions() : { queues: [], colleagues: [] };
      const group = (name, items) => {
        const g = el("optgroup"); g.label = name;
        for (const [value, text] of items) g.append(Object.assign(el("option", text), { value: value }));
        return g;
      };
      const chosen = target.value;
      target.replaceChildren(
        Object.assign(el("option", T("Transfer to…")), { value: "" }),
        group(T("Colleagues"), (o.colleagues || []).filter((a) => (a.channels || []).includes(card.channel)).map((a) => ["agent:" + a.agent_id, a.name])),
        group(T("Queues"), (o.queues || []).filter((q) => q !== card.queue).map((q) => ["queue:" + q, label(q)])));
      if (chosen) target.value = chosen;
    };
    fill();
    target.addEventListener("focus", () => { if (window.hotlineReloadOptions) window.hotlineReloadOptions().then(fill); });
    document.addEventListener("hotline:options", fill);
    go.addEventListener("click", async () => {
      if (!target.value) { target.focus(); return; }
      const [kind, name] = target.value.split(/:(.*)/s);
      go.disabled = true;
      const done = await post(api(card.conversation, "transfer"), kind === "agent" ? { agent: name } : { queue: name });
      go.disabled = false;
      if (done) remove(card.conversation);
    });
    box.append(target, go);
    return box;
  }

  // conversations ----------------------------------------------------------------------------
  const TICKS = { queued: "…", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };
  function tick(state) {
    const t = el("span", TICKS[state] || "", "tick " + state);
    t.title = T(state);
    return t;
  }
  function messageLi(m) {
    const li = el("li", null, "msg from-" + m.from);
    li.dataset.id = m.id;
    if (m.subject && m.from === "customer") li.append(Object.assign(el("bdi", m.subject, "subject"), { dir: "auto" }));
    li.append(said(m.text));
    if ((m.attachments || []).length) {
      const files = el("ul", null, "files");
      for (const a of m.attachments) files.append(el("li", T("{name} ({kb} kB)", { name: a.name, kb: Math.max(1, Math.round(a.size / 1024)) })));
      li.append(files);
      for (const a of m.attachments) if (String(a.type).startsWith("audio/") && a.url) li.append(player(a));
    }
    const meta = el("span", null, "meta");
    meta.append(new Date(m.at).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }));
    if (m.from === "agent") meta.append(tick(m.delivery));
    li.append(meta);
    return li;
  }
  function player(a) {
    const audio = el("audio", null, "recording");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = a.url; // served only to the agent the task is with
    audio.setAttribute("aria-label", T("Voicemail recording"));
    return audio;
  }
  function workTools(card) {
    // a voicemail or a follow-up: a note, or a callback through the dialler
    const tools = el("div", null, "work");
    const noteForm = el("form", null, "note");
    const note = el("textarea");
    note.rows = 2;
    note.placeholder = T("Add a note…");
    const saveNote = el("button", T("Save note"));
    saveNote.type = "submit";
    noteForm.append(note, saveNote);
    const callForm = el("form", null, "callback");
    const number = el("input");
    number.type = "tel";
    number.dir = "ltr";
    number.placeholder = T("The customer's number");
    const book = el("button", T("Book a callback"));
    book.type = "submit";
    callForm.append(number, book);
    const said = el("p", "", "work-said");
    const ref = () => "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    noteForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = note.value.trim();
      if (!text) return;
      saveNote.disabled = true;
      if (await post(api(card.conversation, "note"), { text: text, ref: ref() })) { note.value = ""; said.textContent = T("Note saved."); }
      saveNote.disabled = false;
    });
    callForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      book.disabled = true;
      const done = await post(api(card.conversation, "callback"), { number: number.value.trim() || null, ref: ref() });
      if (done) said.textContent = T("Callback booked to {number}.", { number: done.callback.number });
      book.disabled = false;
    });
    tools.append(noteForm, callForm, said);
    return tools;
  }
  function add(chat, m) {
    if (chat.byId.has(m.id)) return;
    const li = messageLi(m);
    chat.byId.set(m.id, li);
    let before = null;
    for (const other of chat.thread.children) if (Number(other.dataset.id) > m.id) { before = other; break; }
    chat.thread.insertBefore(li, before);
    chat.thread.scrollTop = chat.thread.scrollHeight;
    if (m.from === "customer") { hideTyping(chat); seen(chat, [m.id]); }
  }
  function seen(chat, ids) {
    if (document.visibilityState === "visible" && ids.length) wsSend({ type: "read", conversation: chat.card.conversation, ids: ids });
    else chat.unseen.push(...ids);
  }
  function showTyping(chat) {
    chat.typing.textContent = T("{name} is typing…", { name: (chat.card.customer && chat.card.customer.name) || T("The customer") });
    clearTimeout(chat.typingTimer);
    chat.typingTimer = setTimeout(() => hideTyping(chat), TYPING_SHOWN_MS);
  }
  function hideTyping(chat) { chat.typing.textContent = ""; clearTimeout(chat.typingTimer); }
  // Who the customer is, their open issues and their contacts on every channel: read from
  // the history when the agent opens it (the conversation is marked "this conversation").
  function customerHistory(card) {
    const box = el("details", null, "history");
    box.append(el("summary", T("Customer and history")));
    const who = el("div", null, "history-customer"), issuesTitle = el("h4", T("Open issues"));
    const issues = el("ul", null, "issues"), timelineTitle = el("h4", T("Contacts on every channel"));
    const timeline = el("ol", null, "timeline");
    box.append(who, issuesTitle, issues, timelineTitle, timeline);
    let loaded = false;
    box.addEventListener("toggle", async () => {
      if (!box.open || loaded) return;
      loaded = true;
      try {
        const r = await fetch("/page-api/agent/conversations/" + card.conversation + "/customer", { credentials: "same-origin" });
        const h = await r.json();
        if (!r.ok) throw new Error(h.error || r.status);
        const H = window.hotlineHistory;
        H.customer(h.customer, null, { customer_name: card.customer && card.customer.name }, who);
        H.issues(h.open_issues, issues);
        H.timeline(h.timeline, timeline, T("this conversation"));
      } catch (e) {
        loaded = false;
        who.replaceChildren(el("p", T("The history is not answering: earlier contacts are missing."), "error"));
      }
    });
    return box;
  }
  function conversation(card) {
    drop(card.conversation);
    const old = chats.get(card.conversation);
    if (old) old.box.remove();
    const box = el("article", null, "conv");
    box.dataset.conversation = card.conversation;
    const head = el("header");
    head.append(badge(card.channel), ...who(card), about(card));
    const s = subject(card);
    if (s) head.append(s);
    const thread = el("ol", null, "thread");
    thread.setAttribute("aria-live", "polite");
    const typing = el("p", "", "typing");
    const reply = el("form", null, "reply");
    const text = el("textarea");
    text.rows = 2;
    text.placeholder = card.channel === "email" ? T("Write your reply…") : T("Write a message…");
    text.setAttribute("aria-label", T("Reply"));
    const sendButton = el("button", T("Send"));
    sendButton.type = "submit";
    sendButton.title = T("Enter or Ctrl+Enter");
    const canned = cannedTools(card, text);
    reply.append(canned.suggest, text, sendButton);
    const resolved = el("button", T("Close as resolved"), "close-resolved");
    const postponed = el("button", T("Close as postponed"), "close-postponed");
    resolved.type = postponed.type = "button";
    const code = el("select", null, "disposition");
    code.setAttribute("aria-label", T("Disposition"));
    code.append(Object.assign(el("option", T("Disposition…")), { value: "" }));
    for (const c of card.dispositions || []) code.append(Object.assign(el("option", label(c)), { value: c }));
    code.hidden = !(card.dispositions || []).length;
    const buttons = el("div", null, "buttons");
    buttons.append(code, resolved, postponed);
    if (!card.work && card.phase !== "ended") buttons.append(transferTools(card));
    const moved = transferredNote(card);
    if (moved) head.append(moved);
    const tools = el("div", null, "reply-tools");
    if (!card.work) tools.append(canned.picker);
    box.append(head, customerHistory(card), thread, typing, tools, card.work ? workTools(card) : reply, buttons);
    const chat = { box, thread, typing, byId: new Map(), card, typingTimer: null, unseen: [], typingOn: false, idle: null };
    chats.set(card.conversation, chat);
    for (const m of card.thread) add(chat, m);
    if (card.phase === "ended") ended(chat, card.reason);
    const typingOut = (on) => {
      if (on === chat.typingOn) return;
      chat.typingOn = on;
      wsSend({ type: "typing", conversation: card.conversation, on: on });
    };
    text.addEventListener("input", () => {
      typingOut(text.value.trim().length > 0);
      clearTimeout(chat.idle);
      chat.idle = setTimeout(() => typingOut(false), TYPING_IDLE_MS);
    });
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey || !ev.shiftKey) && !ev.isComposing) { ev.preventDefault(); reply.requestSubmit(); }
    });
    reply.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      text.value = "";
      typingOut(false);
      const ref = "a" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
      const done = await post(api(card.conversation, "messages"), { text: body, ref: ref });
      if (done) add(chat, done.message); else text.value = body;
    });
    const close = async (status) => {
      resolved.disabled = postponed.disabled = true;
      if (await post(api(card.conversation, "close"), { status: status, disposition: code.value || null })) remove(card.conversation);
      else resolved.disabled = postponed.disabled = false;
    };
    resolved.addEventListener("click", () => close("resolved"));
    postponed.addEventListener("click", () => close("postponed"));
    $("desk-chats").append(box);
    empty();
  }
  function ended(chat, reason) {
    hideTyping(chat);
    const note = el("p", reason === "customer disconnected" ? T("The customer went away.") : T("The customer left the chat."), "ended-note");
    const form = chat.box.querySelector("form.reply");
    if (form) form.replaceWith(note);
  }
  function remove(id) {
    const chat = chats.get(id);
    if (chat) { chat.box.remove(); chats.delete(id); }
    drop(id);
    empty();
  }

  // the feed -------------------------------------------------------------------------------
  function handle(f) {
    if (f.type === "snapshot") {
      for (const id of [...offers.keys()]) drop(id);
      for (const id of [...chats.keys()]) remove(id);
      for (const card of f.tasks) (card.phase === "reserved" ? offer : conversation)(card);
    } else if (f.type === "offered") offer(f.task);
    else if (f.type === "accepted") conversation(f.task);
    else if (f.type === "gone") remove(f.conversation);
    else if (f.type === "closed") remove(f.conversation);
    else if (f.type === "ended") { const chat = chats.get(f.conversation); if (chat) ended(chat, f.reason); }
    else if (f.type === "message") {
      const chat = chats.get(f.conversation);
      if (chat) add(chat, f.message);
      else if (offers.has(f.conversation) && f.message.from === "customer") {
        offers.get(f.conversation).li.querySelector(".preview").textContent = f.message.text;
      }
    } else if (f.type === "delivery") {
      const chat = chats.get(f.conversation), li = chat && chat.byId.get(f.id);
      const old = li && li.querySelector(".tick");
      if (old) old.replaceWith(tick(f.state));
    } else if (f.type === "typing") {
      const chat = chats.get(f.conversation);
      if (chat) { if (f.on) showTyping(chat); else hideTyping(chat); }
    }
  }
  document.addEventListener("visibilitychange", () => {
    for (const chat of chats.values()) { const ids = chat.unseen.splice(0); seen(chat, ids); }
  });
  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/agent/desk");
    ws.onopen = () => { delay = 500; $("desk-link").hidden = true; };
    ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { /* not ours */ } };
    ws.onclose = () => {
      $("desk-link").hidden = false;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
