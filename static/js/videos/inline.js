// Short videos in feeds and grids (templates/videos/_card.html): play muted while at
// least 60% on screen, pause when scrolled away; a sound button per card; event
// times in the viewer's zone; RSVP from a card comes back to the same card.
// Cards added later (infinite scroll) arrive with the "livelite:content" event.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function play(video) {
    var promise = video.play();
    if (promise && promise.catch) promise.catch(function () { /* autoplay refused: the poster stays */ });
  }

  var observer = "IntersectionObserver" in window && !reduceMotion
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          var video = entry.target;
          if (entry.isIntersecting && entry.intersectionRatio >= 0.6) play(video);
          else if (!video.paused) video.pause();
        });
      }, { threshold: [0, 0.6, 1] })
    : null;

  // The sound button of a card or a story (same markup): shows, then mutes and
  // unmutes ``video``, keeping its label and icon in step; ``changed(on)`` after.
  function soundToggle(button, video, changed) {
    button.hidden = false;
    button.addEventListener("click", function () {
      video.muted = !video.muted;
      var on = !video.muted;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.setAttribute("aria-label", on ? button.dataset.labelOn : button.dataset.labelOff);
      button.querySelector("[data-sound-waves]").hidden = !on;
      button.querySelector("[data-sound-mute]").hidden = on;
      if (changed) changed(on);
    });
  }
  window.LiveLiteVideos = { soundToggle: soundToggle };

  function localTimes(root) {
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.textContent = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
    });
    root.querySelectorAll("[data-local-day]").forEach(function (el) {
      var date = new Date(el.dataset.localDay);
      if (isNaN(date)) return;
      el.querySelector("strong").textContent = date.getDate();
      el.querySelector("span").textContent = new Intl.DateTimeFormat(lang, { month: "short" }).format(date);
    });
  }

  function setup(card) {
    if (card.dataset.ready) return;
    card.dataset.ready = "1";
    var video = card.querySelector("video[data-inline-video]");
    var sound = card.querySelector("[data-sound-toggle]");
    if (video && observer) observer.observe(video);
    if (video && sound) soundToggle(sound, video, function (on) { if (on) play(video); });
    card.querySelectorAll("form[data-return-here]").forEach(function (form) {
      form.addEventListener("submit", function () {
        // A card loaded by infinite scroll was rendered for /feed: come back here instead.
        form.elements.next.value = location.pathname + location.search + "#" + form.dataset.returnHere;
      });
    });
    localTimes(card);
  }

  function scan(root) {
    (root || document).querySelectorAll("[data-video-card]").forEach(setup);
  }

  scan(document);
  document.addEventListener("livelite:content", function (event) {
    scan(event.detail && event.detail.root);
  });
})();
