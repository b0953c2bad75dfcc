// The viewer's player: hls.js tuned for low latency (native HLS where hls.js cannot
// run, as on iOS Safari), muted autoplay with an unmute button, "back to live", and
// the ended state when the playlist closes.
(function () {
  "use strict";
  var root = document.querySelector("[data-player]");
  if (!root) return;
  var video = root.querySelector("[data-video]");
  var message = root.querySelector("[data-message]");
  var unmute = root.querySelector("[data-unmute]");
  var backToLive = root.querySelector("[data-back-to-live]");
  var ended = root.querySelector("[data-ended]");
  var badge = root.querySelector("[data-live-badge]");
  var src = root.dataset.src;
  var hls = null;

  function say(text) { message.textContent = text || ""; }

  function showEnded() {
    ended.hidden = false;
    if (badge) badge.hidden = true;
    backToLive.hidden = true;
  }

  unmute.addEventListener("click", function () {
    video.muted = !video.muted;
    if (!video.muted && video.paused) video.play();
    unmute.setAttribute("aria-pressed", String(!video.muted));
    unmute.classList.toggle("is-on", !video.muted);
  });

  function liveEdge() {
    if (hls && hls.liveSyncPosition != null) return hls.liveSyncPosition;
    if (video.seekable.length) return video.seekable.end(video.seekable.length - 1) - 2;
    return null;
  }

  backToLive.addEventListener("click", function () {
    var edge = liveEdge();
    if (edge != null) video.currentTime = edge;
    video.play();
  });

  setInterval(function () {
    var edge = liveEdge();
    var behind = edge != null && edge - video.currentTime > 6;
    backToLive.hidden = !(root.dataset.isLive === "1" && (video.paused || behind));
  }, 1000);

  video.addEventListener("playing", function () { say(""); });
  video.addEventListener("ended", function () { if (root.dataset.isLive === "0") showEnded(); });

  if (!src) {
    if (root.dataset.isLive === "1") say(root.dataset.msgWaiting);
  }

  if (!src) {
    // Nothing to play yet; presence and the status poll below still run.
  } else if (window.Hls && window.Hls.isSupported()) {
    hls = new window.Hls({
      lowLatencyMode: true,
      liveSyncDuration: 2,
      liveMaxLatencyDuration: 8,
      maxLiveSyncPlaybackRate: 1.5,
      backBufferLength: 60,
      manifestLoadingMaxRetry: 30,
      levelLoadingMaxRetry: 30,
    });
    hls.on(window.Hls.Events.LEVEL_LOADED, function (_event, data) {
      if (!data.details.live) root.dataset.isLive = "0";
      if (!data.details.fragments.length) say(root.dataset.msgWaiting);
    });
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) return;
      if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
      say(root.dataset.msgWaiting);
      setTimeout(function () { hls.loadSource(src); }, 2000);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  } else {
    say(root.dataset.msgUnsupported);
  }
  if (src) video.play().catch(function () { /* autoplay refused: the controls stay */ });

  function setViewers(count) {
    var pill = root.querySelector("[data-viewers]");
    root.querySelector("[data-viewer-count]").textContent = count;
    // The page language's plural rule (French says "0 personne", English "0 people").
    var one = new Intl.PluralRules(document.documentElement.lang || "en").select(count) === "one";
    var label = one ? pill.dataset.labelOne.replace("{n}", count) : pill.dataset.labelOther.replace("{n}", count);
    root.querySelector("[data-viewer-label]").textContent = label;
    pill.hidden = false;
  }

  function liveEnded() {
    root.dataset.isLive = "0";
    if (badge) badge.hidden = true;
    if (video.paused || video.ended || !src) showEnded();
  }

  // Live presence and events over Socket.IO; the status poll below is the fallback.
  // The room (room.js) owns the page's one connection to /live when it is there.
  if (window.io && root.dataset.isLive === "1") {
    var auth = { live_id: Number(root.dataset.liveId), invite: root.dataset.invite || null };
    var socket = window.LiveLiteRoom ? window.LiveLiteRoom.connect(auth.live_id, auth.invite) : window.io("/live", { auth: auth });
    socket.on("viewers", function (data) { setViewers(data.count); });
    socket.on("live_ended", liveEnded);
    // Removed from the live (kick, ban), or refused on the way in: the video stops
    // with the chat, and says why.
    var turnedAway = function (text) {
      if (hls) { hls.destroy(); hls = null; }
      video.pause();
      video.removeAttribute("src");
      root.dataset.isLive = "0";
      say(text);
    };
    socket.on("kicked", function (data) { turnedAway(data && data.message); });
    socket.on("connect_error", function (err) { if (!socket.active) turnedAway(err && err.message); });
  }

  // Poll the live's status so the ended state appears even for a paused viewer.
  if (root.dataset.isLive === "1" && root.dataset.statusUrl) {
    var poll = setInterval(function () {
      fetch(root.dataset.statusUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (live) {
          if (!live) return;
          if (live.viewer_count != null) setViewers(live.viewer_count);
          if (live.status === "ended") {
            clearInterval(poll);
            liveEnded();
          }
        })
        .catch(function () {});
    }, 5000);
  }
})();
