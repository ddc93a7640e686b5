/* The composer (templates/admin/platforms/composer.html): a live preview per
   chosen account. The page does not re-implement the platforms' rules: it
   posts the form to the server (?preview=1), which checks the drafts with the
   same adapter rules as scheduling, and draws what comes back. A static file:
   the admin's Content-Security-Policy refuses inline scripts. */
(function () {
  "use strict";

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(row) {
    var problems = [];
    Object.keys(row.problems || {}).forEach(function (field) {
      (row.problems[field] || []).forEach(function (message) { problems.push(message); });
    });
    var box = element("section", "composer-card " + (problems.length ? "refused" : "ok"));
    box.setAttribute("data-platform", row.platform);
    box.setAttribute("data-account", row.account);
    box.appendChild(element("h3", "", row.label + (row.username ? " @" + row.username : "") + " · " + (row.post_type || "post")));
    if (row.thumb) {
      var img = element("img");
      img.src = row.thumb;
      img.alt = "";
      box.appendChild(img);
    } else if (row.media) {
      box.appendChild(element("p", "help", row.media));
    }
    box.appendChild(element("p", "composer-text", row.text || "(no text)"));
    var meter = element("p", "composer-meter");
    var length = element("span", row.limit !== null && row.length > row.limit ? "over" : "",
      row.length + (row.limit !== null ? " / " + row.limit : "") + " " + row.unit);
    meter.appendChild(length);
    if (row.hashtags_max !== null) {
      meter.appendChild(document.createTextNode(" · "));
      meter.appendChild(element("span", row.hashtags > row.hashtags_max ? "over" : "",
        row.hashtags + " / " + row.hashtags_max + " hashtags"));
    } else {
      meter.appendChild(document.createTextNode(" · " + row.hashtags + " hashtags"));
    }
    box.appendChild(meter);
    if (problems.length) {
      var list = element("ul", "composer-problems");
      problems.forEach(function (message) { list.appendChild(element("li", "", message)); });
      box.appendChild(list);
    } else {
      box.appendChild(element("p", "composer-ok help", "Accepted by " + row.label + "'s rules."));
    }
    return box;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("composer-form");
    var previews = document.getElementById("composer-previews");
    var config = JSON.parse(document.getElementById("composer-config").textContent);
    var timer = null;
    var sequence = 0;

    function refresh() {
      var mine = ++sequence;
      fetch(config.preview, { method: "POST", credentials: "same-origin", body: new FormData(form) })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (mine !== sequence) return;  // a newer answer is on its way
          previews.textContent = "";
          if (!data.accounts.length) {
            previews.appendChild(element("p", "help", "Choose accounts to see each platform's preview, checked by its rules."));
            return;
          }
          data.accounts.forEach(function (row) { previews.appendChild(card(row)); });
        })
        .catch(function () {
          previews.textContent = "";
          previews.appendChild(element("p", "errornote", "The preview could not be loaded."));
        });
    }

    function soon() {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    }

    form.querySelectorAll(".composer-own").forEach(function (section) {
      var toggle = section.querySelector("input[type=checkbox]");
      toggle.addEventListener("change", function () {
        section.classList.toggle("open", toggle.checked);
      });
    });
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    refresh();
  });
})();
