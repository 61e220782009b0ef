// The IVR flow editor: line numbers that follow the text and its scrolling, and an error's
// line number (in the list under the diagram) that selects its line in the editor.
(() => {
  // the diagram opens on its entry node (a wide flow is wider than a tablet)
  const scroller = document.querySelector(".flow-scroll");
  const entry = scroller && scroller.querySelector(".flow-entry rect");
  if (entry) {
    const box = entry.getBBox();
    scroller.scrollLeft = Math.max(0, box.x + box.width / 2 - scroller.clientWidth / 2);
  }
})();
(() => {
  const text = document.getElementById("flow-text");
  const gutter = document.getElementById("flow-gutter");
  if (!text || !gutter) return;
  const marked = new Map();
  for (const span of gutter.querySelectorAll("span.bad")) {
    marked.set(Number(span.textContent), span.title);
  }
  function renumber() {
    const count = text.value.split("\n").length;
    gutter.textContent = "";
    for (let n = 1; n <= count; n++) {
      if (n > 1) gutter.append("\n");
      if (marked.has(n)) {
        const span = document.createElement("span");
        span.className = "bad";
        span.title = marked.get(n);
        span.textContent = String(n);
        gutter.append(span);
      } else {
        gutter.append(String(n));
      }
    }
    gutter.scrollTop = text.scrollTop;
  }
  function showLine(n) {
    const lines = text.value.split("\n");
    const start = lines.slice(0, n - 1).reduce((sum, line) => sum + line.length + 1, 0);
    text.focus();
    text.setSelectionRange(start, start + (lines[n - 1] || "").length);
    const height = text.scrollHeight / Math.max(lines.length, 1);
    text.scrollTop = Math.max(0, (n - 4) * height);
  }
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  text.addEventListener("input", renumber);
  for (const link of document.querySelectorAll("a[data-line]")) {
    link.addEventListener("click", event => {
      event.preventDefault();
      showLine(Number(link.dataset.line));
    });
  }
})();
