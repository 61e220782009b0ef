"use strict";
// The page's language for scripts: T("English text", {name: value}) → the text in the page's
// language (the catalog the server put in the page), with {name} placeholders filled in. In a
// right-to-left page each value is isolated (FSI … PDI), so an id, a phone number or a time
// range inside an Arabic sentence keeps its order. LTR(text) → a <bdi dir="ltr"
// class="ltr-value"> element holding text, for a value shown on its own (a table cell).
(function () {
  const node = document.getElementById("i18n");
  const catalog = node ? JSON.parse(node.textContent || "{}") : {};
  const FSI = "\u2068", PDI = "\u2069";
  const rtl = () => document.documentElement.dir === "rtl";
  window.T = function (text, values) {
    const translated = Object.prototype.hasOwnProperty.call(catalog, text) ? catalog[text] : text;
    if (!values) return translated;
    const isolate = rtl();
    return translated.replace(/\{(\w+)\}/g, (m, k) => {
      if (!(k in values)) return m;
      return isolate ? FSI + String(values[k]) + PDI : String(values[k]);
    });
  };
  window.LTR = function (text) {
    const island = document.createElement("bdi");
    island.dir = "ltr";
    island.className = "ltr-value";
    island.textContent = text === null || text === undefined ? "" : String(text);
    return island;
  };
})();
