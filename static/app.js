// Periscope's only script besides htmx. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  // A confirm step for forms that ask for one (data-confirm), without hx-confirm's eval-free limits.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);

  // A notice floating over the page goes away when clicked, unless it is still
  // waiting for the engine (its poll brings the page back by itself).
  document.addEventListener("click", function (ev) {
    var notice = ev.target.closest && ev.target.closest("#flash .notice");
    if (notice && !notice.querySelector(".waiting") && !ev.target.closest("a, button")) {
      notice.remove();
    }
  });

  // While a notice waits for the engine (it brings the page back once the
  // engine answers), the page's live lists stand still: each of their polls
  // would only fail again, put the notice up anew (and what the user did
  // before, announced there, away), and hold a server thread for as long as
  // a hung engine takes to time out.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var el = ev.detail && ev.detail.elt;
    var trigger = (el && el.getAttribute && el.getAttribute("hx-trigger")) || "";
    if (/^every /.test(trigger) && document.querySelector("#flash .waiting")) {
      ev.preventDefault();
    }
  });

  // A link to a section inside a closed <details> (the raw JSON) opens it.
  function openTarget() {
    var id = location.hash.slice(1);
    var el = id && document.getElementById(id);
    var det = el && (el.tagName === "DETAILS" ? el : el.querySelector("details"));
    if (det) { det.open = true; }
  }
  window.addEventListener("hashchange", openTarget);

  // What the user set in a live list (project groups opened or closed, rows
  // ticked for merged logs) stays as it was when the next poll swaps it in.
  var kept = { open: {}, ticked: {} };
  document.addEventListener("toggle", function (ev) {
    var d = ev.target;
    if (d && d.matches && d.matches("details[data-keep]")) { kept.open[d.getAttribute("data-keep")] = d.open; }
  }, true);
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.matches && t.matches("input.pick")) { kept.ticked[t.value] = t.checked; }
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("details[data-keep]").forEach(function (d) {
      var k = d.getAttribute("data-keep");
      if (Object.prototype.hasOwnProperty.call(kept.open, k) && d.open !== kept.open[k]) { d.open = kept.open[k]; }
    });
    document.querySelectorAll("input.pick").forEach(function (t) {
      if (Object.prototype.hasOwnProperty.call(kept.ticked, t.value)) { t.checked = kept.ticked[t.value]; }
    });
  });
  document.addEventListener("DOMContentLoaded", openTarget);
})();
