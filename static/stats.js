// The container list's live poll tells the server which rows are on screen
// (`seen`: their short IDs), so the engine is asked for the stats of those
// only; nothing while the tab is hidden (a container page's poll says
// `hidden=1` then), and which figures it shows (`cells`: their tag). No
// inline script (the CSP forbids it).
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (ev) {
    var elt = ev.detail.elt;
    if (!elt || ev.detail.verb !== "get") { return; }
    // a container page's resources: a hidden tab is not looking at them
    if (elt.id === "stats") { if (document.hidden) { ev.detail.parameters["hidden"] = "1"; } return; }
    if (elt.id !== "rows") { return; }
    var seen = [];
    if (!document.hidden) {
      var rows = elt.querySelectorAll("tr[data-id]");
      var bottom = window.innerHeight || document.documentElement.clientHeight;
      for (var i = 0; i < rows.length; i++) {
        var box = rows[i].getBoundingClientRect();
        if (box.bottom > 0 && box.top < bottom) { seen.push(rows[i].getAttribute("data-id").slice(0, 12)); }
        else if (box.top >= bottom) { break; }
      }
    }
    ev.detail.parameters["seen"] = seen.join(",");
    // the figures this page shows: a poll that brings other figures only (the
    // rows the same) answers with the cells that changed
    var cells = document.getElementById("rows-cells");
    if (cells) { ev.detail.parameters["cells"] = cells.getAttribute("data-cells"); }
  });
})();
