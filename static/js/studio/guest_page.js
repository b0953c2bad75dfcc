// The guest page (studio/guest.html): the stage as viewers see it (the host and the
// other guests, from the room's `feeds`), and what happens to this person's place on
// it, from the room's `you`: accepted → the page reloads into the publisher; removed
// by the host → publishing stops and the camera turns off. publisher.js does the
// publishing itself, in its guest mode. No inline script (CSP); strings from data-*.
(function () {
  "use strict";
  var root = document.querySelector("[data-guest-page]");
  if (!root || !window.io || !window.LiveLiteStage || root.dataset.isLive !== "1") return;
  var d = root.dataset;
  var me = Number(d.userId);
  var shown = d.status || null; // the standing this page was drawn for
  var leaving = false, over = false;
  var gridBox = root.querySelector("[data-stage-grid]");
  var soundButton = root.querySelector("[data-stage-sound]");
  var leaveForm = root.querySelector("[data-stage-leave]");
  var publisherForm = root.querySelector("[data-studio-form]");
  var preview = root.querySelector("[data-preview]");

  var stage = window.LiveLiteStage.grid(gridBox, {
    includeHost: true,
    skipUserId: me,
    hostLabel: d.labelHost,
    waitingLabel: d.msgWaiting,
    onChange: function (count) { if (soundButton) soundButton.hidden = count === 0; },
  });

  if (soundButton) {
    soundButton.addEventListener("click", function () {
      var on = soundButton.getAttribute("aria-pressed") !== "true";
      soundButton.setAttribute("aria-pressed", String(on));
      soundButton.classList.toggle("is-on", on);
      stage.setMuted(!on);
    });
  }
  if (leaveForm) leaveForm.addEventListener("submit", function () { leaving = true; });

  // Off the stage (removed, or the live ended): stop sending, turn the camera off.
  function offStage(code, message) {
    if (over) return;
    over = true;
    root.dispatchEvent(new CustomEvent("livelite:stop", { detail: { code: code, message: message } }));
    if (preview && preview.srcObject) {
      preview.srcObject.getTracks().forEach(function (track) { track.stop(); });
      preview.srcObject = null;
    }
    if (leaveForm) leaveForm.hidden = true;
    if (publisherForm) {
      publisherForm.querySelectorAll("input, select, button").forEach(function (el) { el.disabled = true; });
    }
    if (!publisherForm) {
      var note = root.querySelector("[data-stage-note]");
      if (note) note.textContent = message;
    }
  }

  window.LiveLiteStage.attach({
    liveId: d.liveId,
    invite: d.invite,
    onFeeds: function (feeds) { if (!over) stage.update(feeds); },
    onYou: function (you) {
      var now = you.guest_status || null;
      if (now === shown) return;
      if (shown === "active") {
        if (!leaving) offStage("removed", d.msgRemoved);
      } else if (!leaving) {
        // Accepted, invited, or a request declined: draw the page for the new standing.
        window.location.reload();
      }
      shown = now;
    },
    onEnded: function () {
      stage.clear();
      offStage("ended", d.msgEnded);
    },
  });
})();
