/* Admin live monitor: refresh viewers and each feed's health every 5 seconds from
   /admin/lives.json. The page works without it (a Refresh link); strings come from the
   template's data-t-* attributes. When lives start or end, it offers to reload. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-monitor]");
  if (!root) return;
  var status = document.querySelector("[data-monitor-status]");
  var alert = document.querySelector("[data-monitor-alert]");
  var shown = Array.prototype.map.call(root.querySelectorAll("[data-live-id]"), function (el) {
    return el.getAttribute("data-live-id");
  }).sort().join(",");
  var KEYS = ["input_bitrate_kbps", "output_fps", "keyframe_interval_s", "lag_seconds"];

  function say(text, reload) {
    if (!status) return;
    status.textContent = text + " ";
    if (alert && alert.textContent !== (reload ? text : "")) alert.textContent = reload ? text : "";
    if (reload) {
      var link = document.createElement("a");
      link.href = window.location.pathname;
      link.textContent = root.dataset.tReload;
      status.appendChild(link);
    }
  }

  function apply(data) {
    var changed = false;
    var ids = data.lives.map(function (live) { return String(live.id); }).sort().join(",");
    if (ids !== shown) changed = true;
    data.lives.forEach(function (live) {
      var item = root.querySelector('[data-live-id="' + live.id + '"]');
      if (!item) return;
      var viewers = item.querySelector("[data-viewers]");
      if (viewers) viewers.textContent = live.viewers;
      live.feeds.forEach(function (feed) {
        var row = item.querySelector('[data-feed-id="' + feed.id + '"]');
        if (!row) { changed = true; return; }
        KEYS.forEach(function (key) {
          var el = row.querySelector('[data-h="' + key + '"]');
          if (el) el.textContent = feed[key];
        });
        var dot = row.querySelector("[data-state]");
        if (dot) dot.className = "health-dot " + feed.state;
        var label = row.querySelector("[data-state-label]");
        if (label) label.textContent = feed.state_label;
      });
    });
    if (changed) say(root.dataset.tChanged, true);
    else say(root.dataset.tAsOf.replace("{t}", data.updated), false);
  }

  function refresh() {
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(apply)
      .catch(function () { say(root.dataset.tFailed, true); });
  }

  window.setInterval(function () {
    if (!document.hidden) refresh();
  }, 5000);
})();
