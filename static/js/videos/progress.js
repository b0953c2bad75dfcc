// The video page while the video converts (its creator only): the bar follows
// "video_progress" events on the /me Socket.IO namespace; the status is also read
// once on connect, so an update sent before the page listened is not missed. When
// the video is ready (or failed) the page reloads to show the player (or why).
(function () {
  "use strict";
  var box = document.querySelector("[data-video-progress]");
  if (!box) return;
  var id = Number(box.dataset.videoProgress);
  var bar = box.querySelector("[data-progress-bar]");
  var text = box.querySelector("[data-progress-text]");
  var done = false;

  function show(data) {
    if (done || !data || data.id !== id) return;
    if (data.status !== "processing") {
      done = true;
      if (data.status === "ready") {
        bar.value = 100;
        text.textContent = box.dataset.labelReady;
      }
      box.dataset.state = data.status;
      window.setTimeout(function () { window.location.reload(); }, 400);
      return;
    }
    if (typeof data.progress === "number" && data.progress >= bar.value) {
      bar.value = data.progress;
      text.textContent = box.dataset.labelConverting.replace("{n}", data.progress);
    }
  }

  function check() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(show)
      .catch(function () { /* the next check or event will do */ });
  }

  if (window.io) {
    var socket = window.io("/me");
    socket.on("connect", check);
    socket.on("video_progress", show);
  }
  // A safety net if the socket cannot connect (a proxy without WebSocket, say).
  window.setInterval(function () { if (!done) check(); }, 10000);
  check();
})();
