// The logs page: keep the page bounded, stick to the newest line while following,
// and apply the filter form when a select or checkbox changes. No inline script (CSP).
(function () {
  "use strict";
  var stick = true;
  var pending = false;

  function box() { return document.getElementById("log-lines"); }

  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 40; }

  function settle() {
    pending = false;
    var el = box();
    if (!el) { return; }
    var bound = parseInt(el.getAttribute("data-bound"), 10) || 5000;
    var extra = el.children.length - bound;
    if (extra > 0) {
      for (var i = 0; i < extra; i++) { el.removeChild(el.firstElementChild); }
      var n = document.getElementById("log-trimmed-n");
      var note = document.getElementById("log-trimmed");
      if (n && note) {
        var total = (parseInt(n.getAttribute("data-n") || "0", 10) || 0) + extra;
        n.setAttribute("data-n", String(total));
        n.textContent = total.toLocaleString("en");
        note.hidden = false;
      }
    }
    var empty = document.getElementById("log-empty");
    if (empty && el.children.length) { empty.remove(); }
    if (stick) { el.scrollTop = el.scrollHeight; }
  }

  document.addEventListener("htmx:oobBeforeSwap", function (ev) {
    var t = ev.detail && ev.detail.target;
    if (t && t.id === "log-lines") { stick = atBottom(t); }
  });
  document.addEventListener("htmx:oobAfterSwap", function (ev) {
    var t = ev.detail && ev.detail.target;
    if (t && t.id === "log-lines" && !pending) {
      pending = true;
      window.requestAnimationFrame(settle);
    }
  });

  function init() {
    var el = box();
    if (el) { el.scrollTop = el.scrollHeight; }
    var form = document.getElementById("log-filters");
    if (form) {
      form.addEventListener("change", function (ev) {
        var t = ev.target;
        if (t.tagName === "SELECT" || t.type === "checkbox") {
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
      });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
