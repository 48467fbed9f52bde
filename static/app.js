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

  // A link to a section inside a closed <details> (the raw JSON) opens it.
  function openTarget() {
    var id = location.hash.slice(1);
    var el = id && document.getElementById(id);
    var det = el && (el.tagName === "DETAILS" ? el : el.querySelector("details"));
    if (det) { det.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  document.addEventListener("DOMContentLoaded", openTarget);
})();
