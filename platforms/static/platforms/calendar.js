/* The operator's calendar (templates/admin/platforms/calendar.html), drawn by
   FullCalendar (vendored under vendor/fullcalendar). The calendar runs in a
   named zone without a time-zone plugin ("UTC coercion"): the server sends and
   takes wall-clock times in that zone, without an offset, and converts them.
   A drop asks the server to reschedule the post; a refusal puts it back and
   says why. A static file: the admin's Content-Security-Policy refuses inline
   scripts. */
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // a UTC-coerced Date as the zone's wall clock, e.g. 2026-12-24T19:00:00
  function wallClock(date) {
    return date.toISOString().slice(0, 19);
  }

  function say(text, ok) {
    var box = document.getElementById("calendar-message");
    box.textContent = text;
    box.className = ok ? "calendar-ok" : "errornote";
  }

  function eventContent(arg) {
    var props = arg.event.extendedProps;
    var wrap = document.createElement("div");
    wrap.className = "calendar-event";
    if (props.thumb) {
      var img = document.createElement("img");
      img.src = props.thumb;
      img.alt = "";
      img.loading = "lazy";
      wrap.appendChild(img);
    }
    var text = document.createElement("div");
    text.className = "calendar-event-text";
    var time = document.createElement("strong");
    time.textContent = arg.timeText + " ";
    var title = document.createElement("span");
    title.textContent = arg.event.title;
    text.appendChild(time);
    text.appendChild(title);
    wrap.appendChild(text);
    return { domNodes: [wrap] };
  }

  function move(info, config) {
    var body = new URLSearchParams();
    body.set("id", info.event.id);
    body.set("start", wallClock(info.event.start));
    body.set("zone", config.zone);
    fetch(config.move, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString()
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (answer) {
      if (answer.ok) {
        say(answer.data.detail, true);
      } else {
        info.revert();
        say("Not moved: " + answer.data.detail, false);
      }
    }).catch(function () {
      info.revert();
      say("Not moved: the server could not be reached.", false);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var config = JSON.parse(document.getElementById("calendar-config").textContent);
    var filters = document.getElementById("calendar-filters");
    filters.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.name === "character") {
          var account = filters.querySelector("select[name=account]");
          if (account) account.value = "";
        }
        filters.submit();
      });
    });
    var options = {
      timeZone: config.zone,
      initialView: config.view,
      headerToolbar: { left: "prev,next today", center: "title", right: "timeGridWeek,dayGridMonth" },
      buttonText: { timeGridWeek: "week", dayGridMonth: "month", today: "today" },
      firstDay: 1,
      allDaySlot: false,
      dayHeaderFormat: { weekday: "short", day: "numeric", month: "short" },
      height: "auto",
      nowIndicator: true,
      slotDuration: "00:30:00",
      snapDuration: "00:15:00",
      scrollTime: "08:00:00",
      eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
      dayMaxEvents: 4,
      editable: config.canMove,
      eventDurationEditable: false,
      events: {
        url: config.events,
        failure: function () { say("The posts of this range could not be loaded.", false); }
      },
      eventContent: eventContent,
      eventDidMount: function (arg) {
        var props = arg.event.extendedProps;
        arg.el.title = props.local + " · " + props.status + (props.error ? " · " + props.error : "") + "\n" + arg.event.title;
        arg.el.setAttribute("data-event-id", arg.event.id);
        arg.el.setAttribute("data-status", props.status);
      },
      eventDrop: function (info) { move(info, config); }
    };
    if (config.date) options.initialDate = config.date;
    var calendar = new FullCalendar.Calendar(document.getElementById("calendar"), options);
    calendar.render();
    window.operatorCalendar = calendar;
  });
})();
