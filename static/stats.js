// The container list's live poll tells the server which rows are on screen
// (`seen`: their short IDs), so the engine is asked for the stats of those
// only; nothing while the tab is hidden. No inline script (the CSP forbids it).
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (ev) {
    var elt = ev.detail.elt;
    if (!elt || elt.id !== "rows" || ev.detail.verb !== "get") { return; }
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
  });
})();
