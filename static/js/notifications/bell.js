// The bell's unread count, kept current over Socket.IO (/me) without reloading.
(function () {
  "use strict";
  var bell = document.querySelector("[data-bell]");
  if (!bell || !window.io) return;
  var badge = bell.querySelector("[data-unread]");
  var rules = new Intl.PluralRules(document.documentElement.lang || "en");
  function show(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    var pattern = count === 0 ? bell.dataset.labelNone
      : rules.select(count) === "one" ? bell.dataset.labelOne : bell.dataset.labelOther;
    bell.setAttribute("aria-label", pattern.replace("{n}", count));
  }
  var socket = window.io("/me");
  socket.on("notifications", function (data) { show(data.unread); });
})();
