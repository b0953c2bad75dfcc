// The story viewer: the current story's bar fills while it shows (a photo for a few
// seconds, a video for its length), then the next one opens. Right arrow, space or
// a tap on the right goes on; left arrow or a tap on the left goes back; Escape
// closes. The tap zones are plain links, so all of it works without this script too.
(function () {
  "use strict";
  var viewer = document.querySelector("[data-story-viewer]");
  if (!viewer) return;
  var bar = viewer.querySelector("[data-story-bar]");
  var video = viewer.querySelector("[data-story-video]");
  var photo = viewer.querySelector("[data-story-photo]");
  var sound = viewer.querySelector("[data-story-sound]");
  var leaving = false;

  function go(url) {
    if (!url || leaving) return;
    leaving = true;
    window.location.assign(url);
  }
  function next() { go(viewer.dataset.nextUrl); }

  document.addEventListener("keydown", function (event) {
    if (event.target.closest("input, textarea, select, button")) return;
    if (event.key === "ArrowRight" || event.key === " ") { event.preventDefault(); next(); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); go(viewer.dataset.prevUrl); }
    else if (event.key === "Escape") { go(viewer.dataset.closeUrl); }
  });

  function fill(fraction) {
    if (bar) bar.style.width = Math.min(100, Math.max(0, fraction * 100)) + "%";
  }

  if (video) {
    video.addEventListener("timeupdate", function () {
      if (video.duration) fill(video.currentTime / video.duration);
    });
    video.addEventListener("ended", function () { fill(1); next(); });
    var started = video.play();
    if (started && started.catch) started.catch(function () { video.controls = true; });
    // inline.js, loaded before this script on the story page, owns the sound button.
    if (sound && window.LiveLiteVideos) window.LiveLiteVideos.soundToggle(sound, video);
  } else if (photo) {
    var total = Number(viewer.dataset.photoSeconds || 5) * 1000;
    var shown = 0;
    var last = null;
    var tick = function (now) {
      if (last !== null && !document.hidden) shown += now - last;
      last = now;
      fill(shown / total);
      if (shown >= total) { next(); return; }
      window.requestAnimationFrame(tick);
    };
    window.requestAnimationFrame(tick);
  }

  // "3 h ago", in the page's language ("short": French "narrow" reads "-3 h").
  var lang = document.documentElement.lang || "en";
  viewer.querySelectorAll("time[data-relative-time]").forEach(function (el) {
    var date = new Date(el.getAttribute("datetime"));
    if (isNaN(date) || !window.Intl || !Intl.RelativeTimeFormat) return;
    var minutes = Math.round((date.getTime() - Date.now()) / 60000);
    var format = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
    el.textContent = Math.abs(minutes) < 60 ? format.format(minutes, "minute") : format.format(Math.round(minutes / 60), "hour");
  });
})();
