// The events page keeps a bounded list: after each poll, rows beyond
// data-max-rows (the oldest, at the bottom) are removed.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function () {
    var table = document.getElementById("events");
    if (!table) { return; }
    var max = parseInt(table.getAttribute("data-max-rows"), 10) || 1000;
    var rows = table.querySelectorAll("tbody tr.ev");
    for (var i = rows.length - 1; i >= max; i--) { rows[i].remove(); }
  });
})();
