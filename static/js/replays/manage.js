// The owner's replay pages (templates/replays/index.html and post.html).
//
// The list: each file of a replay (a feed's MP4, the side-by-side MP4) follows the
// "replay_progress" events of the /me Socket.IO namespace (services.replays
// progress_payload) — waiting, making N %, ready (Download), failed (why, Retry) —
// with no reload. The state is also read from /settings/replays/progress when the
// socket (re)connects, so an update sent before the page listened is not missed, and
// every few seconds while a file is being made, in case the socket cannot connect.
//
// The post form: "Use the preview's time" fills Start or End from the preview video;
// typing a time seeks the preview there; the host-only / side-by-side choice swaps
// the preview's source. While the MP4 is still being made the page reloads when it
// is ready. Every string comes from data-* attributes rendered by the templates.
(function () {
  "use strict";

  var ACTIVE = { pending: true, processing: true };

  function fetchProgress(url, ids) {
    return fetch(url + "?ids=" + ids.join(","), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) { return response.ok ? response.json() : { replays: [] }; });
  }

  function listen(onProgress, onConnect) {
    if (!window.io) return;
    var socket = window.io("/me");
    socket.on("connect", onConnect);
    socket.on("replay_progress", onProgress);
  }

  // -- the list --------------------------------------------------------------------
  function initList(list) {
    var announcer = document.querySelector("[data-replay-announce]");
    var lang = document.documentElement.lang || undefined;
    var cards = {};
    list.querySelectorAll("[data-replay]").forEach(function (card) { cards[card.dataset.replay] = card; });

    function formatBytes(n) {
      var units = [[1073741824, "labelGb"], [1048576, "labelMb"]];
      for (var i = 0; i < units.length; i++) {
        if (n >= units[i][0]) {
          var value = Math.round((n / units[i][0]) * 10) / 10;
          return list.dataset[units[i][1]].replace("{n}", value.toLocaleString(lang));
        }
      }
      return list.dataset.labelKb.replace("{n}", Math.max(0, Math.round(n / 1024)).toLocaleString(lang));
    }

    function titleOf(card) {
      var heading = card.querySelector(".replay-title");
      return heading ? heading.textContent.trim() : "";
    }

    function setFile(card, key, file) {
      var row = card.querySelector('[data-file="' + key + '"]');
      if (!row || !file || !file.status || file.status === "none") return;
      var before = row.dataset.state;
      row.dataset.state = file.status;
      row.querySelectorAll("[data-when]").forEach(function (part) {
        part.hidden = part.dataset.when !== file.status;
      });
      if (file.status === "processing") {
        var bar = row.querySelector("[data-file-bar]");
        var percent = row.querySelector("[data-file-percent]");
        var progress = typeof file.progress === "number" ? file.progress : 0;
        if (before !== "processing" || progress >= bar.value) {
          bar.value = progress;
          percent.textContent = list.dataset.labelMaking.replace("{n}", progress);
        }
      } else if (file.status === "failed") {
        row.querySelector("[data-file-error]").textContent = file.error || "";
      }
      if (before !== file.status && announcer && (file.status === "ready" || file.status === "failed")) {
        var label = file.status === "ready" ? list.dataset.labelReady : list.dataset.labelFailed;
        announcer.textContent = label.replace("{title}", titleOf(card));
      }
    }

    function show(data) {
      if (!data) return;
      var card = cards[String(data.id)];
      if (!card) return;
      (data.feeds || []).forEach(function (feed) { setFile(card, "feed-" + feed.id, feed); });
      setFile(card, "composed", data.composed);
      if (typeof data.size_bytes === "number") {
        var size = card.querySelector("[data-replay-size]");
        if (size) size.textContent = formatBytes(data.size_bytes);
      }
      // Once the host's MP4 is ready the replay can be posted.
      var main = card.querySelector('[data-file="feed-' + card.dataset.mainFeed + '"]');
      var ready = main && main.dataset.state === "ready";
      card.querySelectorAll("[data-needs-main]").forEach(function (el) { el.hidden = !ready; });
      card.querySelectorAll("[data-until-main]").forEach(function (el) { el.hidden = ready; });
    }

    function busyIds() {
      return Object.keys(cards).filter(function (id) {
        var rows = cards[id].querySelectorAll("[data-file]");
        for (var i = 0; i < rows.length; i++) {
          if (ACTIVE[rows[i].dataset.state]) return true;
        }
        return false;
      });
    }

    function check() {
      var ids = busyIds();
      if (!ids.length) return;
      fetchProgress(list.dataset.progressUrl, ids)
        .then(function (body) { (body.replays || []).forEach(show); })
        .catch(function () { /* the next check or event will do */ });
    }

    listen(show, check);
    window.setInterval(check, 10000);
  }

  // -- the post form -----------------------------------------------------------------
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var ss = (s < 10 ? "0" : "") + s;
    if (h) return h + ":" + (m < 10 ? "0" : "") + m + ":" + ss;
    return m + ":" + ss;
  }

  function parseClock(text) {
    text = (text || "").trim();
    if (!text) return null;
    var parts = text.split(":"), total = 0;
    if (parts.length > 3) return null;
    for (var i = 0; i < parts.length; i++) {
      var n = Number(parts[i]);
      if (parts[i] === "" || isNaN(n) || n < 0) return null;
      total = total * 60 + n;
    }
    return total;
  }

  function initPost(box) {
    var preview = box.querySelector("[data-trim-preview]");
    var replayId = Number(box.dataset.replayPost);

    if (box.querySelector("[data-replay-wait]")) {
      var reloading = false;
      var mainId = Number(box.dataset.mainFeed);
      var whenReady = function (data) {
        if (reloading || !data || data.id !== replayId) return;
        (data.feeds || []).forEach(function (feed) {
          if (feed.id === mainId && (feed.status === "ready" || feed.status === "failed")) {
            reloading = true;
            window.location.reload();
          }
        });
      };
      var check = function () {
        fetchProgress(box.dataset.progressUrl, [replayId])
          .then(function (body) { (body.replays || []).forEach(whenReady); })
          .catch(function () { /* try again later */ });
      };
      listen(whenReady, check);
      window.setInterval(check, 10000);
    }

    if (!preview) return;
    box.querySelectorAll("[data-trim-set]").forEach(function (button) {
      var input = document.getElementById(button.dataset.trimSet);
      if (!input) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        input.value = clock(preview.currentTime);
        input.dispatchEvent(new Event("change"));
      });
    });
    ["trim_start", "trim_end"].forEach(function (id) {
      var input = document.getElementById(id);
      if (!input) return;
      input.addEventListener("change", function () {
        var seconds = parseClock(input.value);
        if (seconds !== null && isFinite(preview.duration || NaN)) {
          preview.currentTime = Math.min(seconds, preview.duration);
        } else if (seconds !== null) {
          preview.currentTime = seconds;
        }
      });
    });
    box.querySelectorAll("[data-source-choice]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var src = radio.value === "composed" ? preview.dataset.srcComposed : preview.dataset.srcHost;
        if (!radio.checked || !src || preview.getAttribute("src") === src) return;
        var at = preview.currentTime;
        preview.setAttribute("src", src);
        preview.addEventListener("loadedmetadata", function seek() {
          preview.removeEventListener("loadedmetadata", seek);
          preview.currentTime = Math.min(at, preview.duration || at);
        });
      });
    });
  }

  var list = document.querySelector("[data-replay-list]");
  if (list) initList(list);
  var post = document.querySelector("[data-replay-post]");
  if (post) initPost(post);
})();
