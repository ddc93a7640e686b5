/* A rule's page: while one of its runs waits for a worker, fetch the runs
   table again every few seconds, so the outcome (posts scheduled, or why
   not) appears without reloading. A static file (the admin's CSP refuses
   inline scripts). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var anchor = document.getElementById("runs");
    if (!anchor) return;
    var url = anchor.getAttribute("data-runs-url");
    var tries = 0;
    function pending() {
      var table = document.getElementById("rule-runs");
      return table && table.getAttribute("data-pending") !== "0";
    }
    function poll() {
      if (!pending() || tries++ > 60) return;
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          var table = document.getElementById("rule-runs");
          if (html && table) {
            var holder = document.createElement("div");
            holder.innerHTML = html;  // server-rendered and escaped
            table.replaceWith(holder.firstElementChild);
          }
          setTimeout(poll, 3000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 2000);
  });
})();
