"use strict";
// hotline's web chat on a business's site: one line in the page,
//   <script src="https://hotline.example.com/chat/loader.js" data-lang="en" data-label="Chat with us" async></script>
// adds a chat button; the chat itself is hotline's page (/chat/widget) in a frame, opened on
// the first click and kept open across the site's pages (this tab's sessionStorage).
(function () {
  const script = document.currentScript;
  if (!script || window.hotlineChatLoaded) return;
  window.hotlineChatLoaded = true;
  const base = new URL(script.src, location.href).origin;
  const lang = script.getAttribute("data-lang") || "";
  const label = script.getAttribute("data-label") || "Chat";
  const side = script.getAttribute("data-side") === "left" ? "left" : "right";
  const OPEN_KEY = "hotline-chat-open";
  let frame = null, open = false;

  const button = document.createElement("button");
  button.type = "button";
  button.id = "hotline-chat-button";
  button.setAttribute("aria-expanded", "false");
  button.textContent = label;
  const badge = document.createElement("span");
  Object.assign(badge.style, { display: "none", marginInlineStart: "8px", background: "#c0504d", color: "#fff",
    borderRadius: "9px", padding: "0 6px", fontSize: "12px" });
  button.append(badge);
  Object.assign(button.style, { position: "fixed", bottom: "20px", [side]: "20px", zIndex: "2147483000",
    background: "#234", color: "#fff", border: "0", borderRadius: "24px", padding: "12px 20px",
    font: "600 15px system-ui, sans-serif", cursor: "pointer", boxShadow: "0 2px 8px rgba(0,0,0,.3)" });

  function tell() {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ hotlineChat: open ? "shown" : "hidden" }, base);
  }
  function show(on) {
    open = on;
    if (on && !frame) {
      frame = document.createElement("iframe");
      frame.id = "hotline-chat-frame";
      frame.title = label;
      frame.src = base + "/chat/widget" + (lang ? "?lang=" + encodeURIComponent(lang) : "");
      Object.assign(frame.style, { position: "fixed", bottom: "76px", [side]: "20px", zIndex: "2147483000",
        width: "min(370px, calc(100vw - 40px))", height: "min(540px, calc(100vh - 100px))", border: "0",
        borderRadius: "10px", boxShadow: "0 4px 20px rgba(0,0,0,.3)", background: "#fff" });
      frame.addEventListener("load", tell);
      document.body.append(frame);
    }
    if (frame) frame.style.display = on ? "block" : "none";
    button.setAttribute("aria-expanded", String(on));
    try { sessionStorage.setItem(OPEN_KEY, on ? "1" : ""); } catch (e) { /* storage off */ }
    tell();
  }
  button.addEventListener("click", () => show(!open));
  window.addEventListener("message", (ev) => {
    if (ev.origin !== base || !frame || ev.source !== frame.contentWindow || !ev.data) return;
    if (ev.data.hotlineChat === "unread") {
      const n = Number(ev.data.count) || 0;
      badge.textContent = String(n);
      badge.style.display = n > 0 ? "inline-block" : "none";
    }
  });
  function ready() {
    document.body.append(button);
    let wasOpen = false;
    try { wasOpen = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* storage off */ }
    if (wasOpen) show(true);
  }
  if (document.body) ready(); else document.addEventListener("DOMContentLoaded", ready);
})();
