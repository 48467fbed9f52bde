// The logs page: keep the page bounded, stick to the newest line while following,
// and apply the filter form when a select or checkbox changes. No inline script (CSP).
(function () {
  "use strict";
  var stick = true;
  var pending = false;
  var before = -1;  // rows in the box before the poll's rows came

  function box() { return document.getElementById("log-lines"); }

  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 40; }

  function stamp(row) {
    var t = row.querySelector("time");
    return t ? t.getAttribute("title") : null;
  }

  // A merged log's poll brings each container's new lines, in order among
  // themselves; one older than a line already shown (another container's read
  // was a moment later) moves up to its place. The engine's timestamps have a
  // fixed width, so their texts sort as the times do.
  function place(el, from) {
    if (!el.classList.contains("merged") || from < 0) { return; }
    var fresh = Array.prototype.slice.call(el.children, from);
    fresh.forEach(function (row) {
      var ts = stamp(row);
      var prev = row.previousElementSibling;
      if (ts === null || !prev || stamp(prev) <= ts) { return; }
      while (prev && stamp(prev) > ts) { prev = prev.previousElementSibling; }
      el.insertBefore(row, prev ? prev.nextElementSibling : el.firstElementChild);
    });
  }

  function settle() {
    pending = false;
    var el = box();
    if (!el) { return; }
    place(el, before);
    before = -1;
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
    if (t && t.id === "log-lines") {
      stick = atBottom(t);
      if (before < 0) { before = t.children.length; }
    }
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
