// Periscope's only script besides htmx. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  // A confirm step for forms that ask for one (data-confirm), without hx-confirm's eval-free limits.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }, true);
})();
