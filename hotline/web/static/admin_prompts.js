// The upload form sends its CSRF token as a header, so the server streams the recording to
// disk within its own size cap; the answer (the page) replaces the page's main content.
(() => {
  const T = window.T || (s => s);
  function attach() {
    const form = document.getElementById("prompt-upload");
    if (!form) return;
    form.addEventListener("submit", async event => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; button.textContent = T("Uploading…"); }
      const token = document.querySelector('meta[name="csrf-token"]').content;
      try {
        const res = await fetch(form.action, {
          method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": token },
        });
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.querySelector("main");
        if (fresh) {
          document.querySelector("main").replaceWith(fresh);
          attach();
        }
      } catch (err) {
        if (button) { button.disabled = false; button.textContent = T("Upload and convert"); }
        alert(T("The upload failed; try again."));
      }
    });
  }
  attach();
})();
