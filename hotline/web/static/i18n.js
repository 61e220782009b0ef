"use strict";
// The page's language for scripts: T("English text", {name: value}) → the text in the page's
// language (the catalog the server put in the page), with {name} placeholders filled in.
(function () {
  const node = document.getElementById("i18n");
  const catalog = node ? JSON.parse(node.textContent || "{}") : {};
  window.T = function (text, values) {
    const translated = Object.prototype.hasOwnProperty.call(catalog, text) ? catalog[text] : text;
    return values ? translated.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m)) : translated;
  };
})();
