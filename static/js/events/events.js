// Event pages: times shown in the viewer's own time zone, a countdown, and the
// browser's time zone sent with the event form (times are stored in UTC).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

  document.querySelectorAll("time[data-local-time]").forEach(function (el) {
    var date = new Date(el.getAttribute("datetime"));
    if (isNaN(date)) return;
    var options = el.dataset.style === "full"
      ? { weekday: "long", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }
      : { dateStyle: "medium", timeStyle: "short" };
    el.textContent = new Intl.DateTimeFormat(lang, options).format(date);
  });

  // Day and month of cards, in the viewer's zone (the server wrote them in UTC).
  document.querySelectorAll("[data-local-day]").forEach(function (el) {
    var date = new Date(el.dataset.localDay);
    if (isNaN(date)) return;
    el.querySelector("strong").textContent = date.getDate();
    el.querySelector("span").textContent = new Intl.DateTimeFormat(lang, { month: "short" }).format(date);
  });

  var countdown = document.querySelector("[data-countdown]");
  if (countdown) {
    var target = new Date(countdown.dataset.countdown).getTime();
    var units = [countdown.dataset.unitD, countdown.dataset.unitH, countdown.dataset.unitM, countdown.dataset.unitS];
    var render = function () {
      var left = Math.floor((target - Date.now()) / 1000);
      if (left <= 0) { countdown.textContent = countdown.dataset.labelStarted; return; }
      var parts = [Math.floor(left / 86400), Math.floor(left / 3600) % 24, Math.floor(left / 60) % 60, left % 60];
      var text = [];
      parts.forEach(function (value, i) { if (value || text.length || i === 3) text.push(units[i].replace("{n}", value)); });
      countdown.textContent = text.join(" ");
    };
    render();
    setInterval(render, 1000);
  }

  // Event form: a group can only be let into an invite-only live (as in the studio).
  var groupField = document.querySelector("[data-group-field]");
  var visibility = document.querySelector("select[name=visibility]");
  if (groupField && visibility) {
    var syncGroupField = function () {
      var invite = visibility.value === "invite";
      groupField.hidden = !invite;
      var select = groupField.querySelector("select");
      if (select) select.disabled = !invite;
    };
    visibility.addEventListener("change", syncGroupField);
    syncGroupField();
  }

  var tzField = document.querySelector("input[data-timezone]");
  if (tzField) {
    tzField.value = zone;
    var hint = document.querySelector("[data-timezone-hint]");
    if (hint) hint.textContent = hint.dataset.label.replace("{zone}", zone);
    var input = document.querySelector("input[data-utc]");
    if (input && input.dataset.utc) {
      // Editing: show the stored UTC time as local time in the browser's zone.
      var d = new Date(input.dataset.utc);
      var pad = function (n) { return String(n).padStart(2, "0"); };
      input.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
    }
  }
})();
