"use strict";
// The chat widget: the visitor's side of /chat/ws (frames in hotline/web/chat/protocol.py).
// The visitor id is kept in this browser; a message gets its own id before it is sent and is
// sent again with it after a reconnect (the server keeps it once). Until the server has
// acknowledged it (stored), a message is kept in this tab's sessionStorage with its id, so one
// typed while the connection was down, or sent and not yet acknowledged, survives a reload and
// is sent again. After a reconnect the page says the last message it has and the server sends
// what came after. Every text is shown as text (textContent), never as markup.
(function () {
  const T = window.T || ((s) => s);
  const $ = (id) => document.getElementById(id);
  const VISITOR_KEY = "hotline-chat-visitor";
  const PENDING_KEY = "hotline-chat-pending";
  const TYPING_IDLE_MS = 3000, TYPING_SHOWN_MS = 8000;
  const storage = (() => { try { return window.localStorage; } catch (e) { return null; } })();
  const session = (() => { try { return window.sessionStorage; } catch (e) { return null; } })();
  let visitor = storage ? storage.getItem(VISITOR_KEY) : null;
  let ws = null, delay = 500, maxChars = 4000, lastId = 0, name = null, email = null;
  let agentName = null, typingOn = false, typingTimer = null, shownTimer = null, ended = false;
  let shownToVisitor = window.parent === window; // framed: the loader says when it is open
  let unread = 0;
  const byId = new Map();    // message id -> its <li>
  const pending = new Map(); // client id -> {text, at, li}: not yet acknowledged (kept in session)
  const unseen = new Set();  // agent messages shown while the widget was closed

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function notice(text, error) {
    const n = $("notice");
    n.textContent = text || "";
    n.classList.toggle("error", !!error);
  }
  function scrollDown() { const t = $("thread"); t.scrollTop = t.scrollHeight; }
  function stateText(state) {
    return { pending: T("sending…"), sent: T("sent"), delivered: T("sent"), read: T("seen"), failed: T("not sent") }[state] || "";
  }
  function setState(li, state) {
    const s = li.querySelector(".state");
    if (!s) return;
    s.textContent = stateText(state);
    s.className = "state " + state;
    li.classList.toggle("failed", state === "failed");
  }
  function bubble(from, who, text, at) {
    const li = el("li", null, "msg from-" + from);
    if (who) li.append(el("span", who, "who"));
    li.append(el("p", text, "text"));
    const meta = el("span", null, "meta");
    const time = el("time", new Date(at || Date.now()).toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" }));
    meta.append(time);
    if (from === "customer") meta.append(" ", el("span", "", "state"));
    li.append(meta);
    return li;
  }
  // The messages not yet acknowledged, kept for a reload of this tab (best effort).
  function keepPending() {
    if (!session) return;
    const list = Array.from(pending, ([ref, p]) => ({ ref: ref, text: p.text, at: p.at }));
    try {
      if (list.length) session.setItem(PENDING_KEY, JSON.stringify(list)); else session.removeItem(PENDING_KEY);
    } catch (e) { /* storage full or refused: kept in memory only */ }
  }
  function restorePending() {
    let list = [];
    try { list = JSON.parse((session && session.getItem(PENDING_KEY)) || "[]"); } catch (e) { list = []; }
    for (const p of Array.isArray(list) ? list : []) {
      if (!p || typeof p.ref !== "string" || typeof p.text !== "string" || pending.has(p.ref)) continue;
      const li = bubble("customer", null, p.text, p.at);
      setState(li, "pending");
      insert(li, Number.MAX_SAFE_INTEGER);
      pending.set(p.ref, { text: p.text, at: p.at, li: li });
    }
  }
  // A message from the server (replayed, echoed from another tab, or the agent's).
  function show(m) {
    if (byId.has(m.id)) return;
    lastId = Math.max(lastId, m.id);
    const waiting = m.ref ? pending.get(m.ref) : null;
    let li;
    if (waiting) { li = waiting.li; pending.delete(m.ref); keepPending(); li.remove(); insert(li, m.id); }
    else {
      const who = m.from === "agent" ? (m.name || T("Agent")) : null;
      li = bubble(m.from, who, m.text, m.at);
      insert(li, m.id);
    }
    li.dataset.id = m.id;
    byId.set(m.id, li);
    if (m.from === "customer") setState(li, m.delivery === "read" ? "read" : "sent");
    if (m.from === "agent") { received(m.id); if (m.name) agentName = m.name; hideTyping(); }
  }
  // In id order; a stored message goes before the ones still waiting for their id.
  function insert(li, id) {
    const thread = $("thread");
    const stored = id !== Number.MAX_SAFE_INTEGER;
    for (const other of thread.children) {
      const later = other.dataset.id ? Number(other.dataset.id) > id : stored;
      if (later) { thread.insertBefore(li, other); scrollDown(); return; }
    }
    thread.append(li);
    scrollDown();
  }
  function received(id) {
    // read says delivered too: one receipt when the visitor has the chat in front of them
    if (seen()) { send({ type: "receipt", state: "read", ids: [id] }); return; }
    send({ type: "receipt", state: "delivered", ids: [id] });
    unseen.add(id); unread += 1; tellParent();
  }
  function seen() { return shownToVisitor && document.visibilityState === "visible"; }
  function readAll() {
    if (!seen() || !unseen.size) return;
    send({ type: "receipt", state: "read", ids: Array.from(unseen).slice(0, 200) });
    unseen.clear(); unread = 0; tellParent();
  }
  function tellParent() {
    if (window.parent !== window) window.parent.postMessage({ hotlineChat: "unread", count: unread }, "*");
  }
  function showTyping() {
    const t = $("typing");
    t.textContent = agentName ? T("{agent} is typing…", { agent: agentName }) : T("The agent is typing…");
    t.hidden = false;
    clearTimeout(shownTimer);
    shownTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
  }
  function hideTyping() { $("typing").hidden = true; clearTimeout(shownTimer); }
  function status(s) {
    if (s.state === "waiting") {
      ended = false;
      notice(s.position ? T("Waiting for an agent: you are number {n} in line.", { n: s.position }) : T("An agent will be with you shortly."));
    } else if (s.state === "connected") {
      ended = false;
      if (s.agent) agentName = s.agent;
      notice(s.agent ? T("{agent} joined the chat.", { agent: s.agent }) : T("An agent joined the chat."));
    } else if (s.state === "closed" || s.state === "left") {
      notice(s.state === "closed" ? T("The agent closed the chat. Write again any time.") : T("The chat has ended."));
      hideTyping();
      $("end").hidden = true;
      if (s.state === "left") {
        ended = true; $("composer").hidden = true; $("end").hidden = true; $("ended").hidden = false;
        for (const p of pending.values()) setState(p.li, "failed"); // the chat is over: not sent
        pending.clear(); keepPending();
      }
    }
  }
  function failed(ref, text) {
    const waiting = ref ? pending.get(ref) : null;
    if (waiting) { setState(waiting.li, "failed"); pending.delete(ref); keepPending(); }
    notice(text, true);
  }
  function errorText(e) {
    return { too_long: T("This message is too long."), rate_limited: T("Too many messages at once: wait a moment."),
      empty: T("Write something first."), not_stored: T("Not sent: please try again.") }[e.code] || T("Something went wrong: please try again.");
  }
  function handle(f) {
    if (f.type === "welcome") {
      visitor = f.visitor;
      if (storage) storage.setItem(VISITOR_KEY, visitor);
      maxChars = f.max_chars || maxChars;
      $("link").hidden = true;
      delay = 500;
      if (f.conversation || $("prechat").hidden) chatting();
      for (const [ref, p] of pending) send({ type: "message", id: ref, text: p.text });
    } else if (f.type === "replay") {
      f.messages.forEach(show);
      chatting();
    } else if (f.type === "message") {
      show(f.message);
    } else if (f.type === "ack") {
      const waiting = pending.get(f.ref);
      if (waiting) show(f.message); else if (!byId.has(f.message.id)) show(f.message);
    } else if (f.type === "delivery") {
      const li = byId.get(f.id);
      if (li) setState(li, f.state);
    } else if (f.type === "typing") {
      if (f.on) showTyping(); else hideTyping();
    } else if (f.type === "status") {
      status(f);
    } else if (f.type === "error") {
      if (f.ref) failed(f.ref, errorText(f)); else notice(errorText(f), true);
    }
  }
  function chatting() {
    if (ended) return;
    $("prechat").hidden = true;
    $("composer").hidden = false;
    $("end").hidden = false;
  }
  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat/ws");
    ws.onopen = () => send({ type: "hello", visitor: visitor, last: lastId, name: name, email: email });
    ws.onmessage = (m) => { try { handle(JSON.parse(m.data)); } catch (e) { /* a frame we cannot read */ } };
    ws.onclose = () => {
      $("link").hidden = false;
      hideTyping();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  function say(text) {
    const ref = "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    const li = bubble("customer", null, text, null);
    setState(li, "pending");
    insert(li, Number.MAX_SAFE_INTEGER);
    pending.set(ref, { text: text, at: new Date().toISOString(), li: li });
    keepPending(); // before it is sent: a reload from now on sends it again
    $("end").hidden = false;
    send({ type: "message", id: ref, text: text });
  }
  function typing(on) {
    if (on === typingOn) return;
    typingOn = on;
    send({ type: "typing", on: on });
  }
  $("text").addEventListener("input", () => {
    const text = $("text").value, over = text.length - maxChars;
    $("count").hidden = over <= 0 && text.length < maxChars * 0.9;
    $("count").textContent = over > 0 ? T("{n} characters too many", { n: over }) : T("{n} characters left", { n: maxChars - text.length });
    typing(text.trim().length > 0);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => typing(false), TYPING_IDLE_MS);
  });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("composer").requestSubmit(); }
  });
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    if (text.length > maxChars) { notice(T("This message is too long."), true); return; }
    notice("");
    $("text").value = "";
    $("count").hidden = true;
    typing(false);
    say(text);
  });
  $("prechat").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData($("prechat"));
    name = String(f.get("name") || "").trim() || null;
    email = String(f.get("email") || "").trim() || null;
    chatting();
    $("text").focus();
    connect(); // a first visit connects once the visitor has said who they are (in the hello)
  });
  $("end").addEventListener("click", () => {
    send({ type: "leave" });
    typing(false);
  });
  $("again").addEventListener("click", () => {
    ended = false;
    $("thread").replaceChildren();
    byId.clear(); pending.clear(); unseen.clear(); keepPending();
    $("ended").hidden = true;
    notice("");
    chatting();
    $("text").focus();
  });
  document.addEventListener("visibilitychange", readAll);
  window.addEventListener("message", (ev) => {
    if (ev.source !== window.parent || !ev.data || typeof ev.data.hotlineChat !== "string") return;
    shownToVisitor = ev.data.hotlineChat === "shown";
    readAll();
  });
  restorePending(); // a reload: what was not acknowledged is shown again and resent on welcome
  if (!visitor) $("prechat").hidden = false;
  else connect();
})();
