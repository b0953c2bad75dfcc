// The host's guests panel in the studio (studio/_guests.html): the guests' videos,
// who is on stage (Remove), who asks to join (Accept, Decline), who is invited
// (Withdraw), and inviting someone by username. Everything goes over the live room's
// connection (/live: guest_accept, guest_remove, guest_invite; the server checks that
// the sender is the host) and the panel redraws from the `guests` and `feeds` the
// server sends back to the staff room. Names via textContent; sentences from data-*.
(function () {
  "use strict";
  var root = document.querySelector("[data-studio-guests]");
  if (!root || !window.io || !window.LiveLiteStage) return;
  var d = root.dataset;
  var studio = document.querySelector("[data-studio]");
  var note = root.querySelector("[data-guests-note]");
  var inviteForm = root.querySelector("[data-guests-invite]");
  var countPill = root.querySelector("[data-guests-count]");
  var socket = null;

  var stage = window.LiveLiteStage.grid(root.querySelector("[data-stage-grid]"), {
    waitingLabel: d.msgWaiting,
  });

  function say(text) { note.textContent = text || ""; }
  function name(user) { return (user && (user.display_name || user.username)) || ""; }
  function fill(pattern, user) { return pattern.replace("{name}", name(user)); }

  function send(event, payload, button, done) {
    if (!socket) return;
    if (button) button.disabled = true;
    socket.timeout(10000).emit(event, payload, function (err, reply) {
      if (button) button.disabled = false;
      if (err) { say(d.msgOffline); return; }
      if (!reply.ok) { say(reply.error); return; }
      say("");
      if (done) done(reply);
    });
  }

  function actionButton(label, aria, className, onClick) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button small " + className;
    button.textContent = label;
    button.setAttribute("aria-label", aria);
    button.addEventListener("click", function () { onClick(button); });
    return button;
  }

  function row(guest) {
    var item = document.createElement("li");
    item.className = "guests-item";
    item.dataset.userId = guest.user.id;
    var who = document.createElement("span");
    who.className = "guests-who";
    var picture;
    if (guest.user.avatar_url) {
      picture = document.createElement("img");
      picture.src = guest.user.avatar_url;
      picture.alt = "";
    } else {
      picture = document.createElement("span");
      picture.className = "avatar-initial";
      picture.setAttribute("aria-hidden", "true");
      picture.textContent = name(guest.user).charAt(0).toUpperCase();
    }
    picture.classList.add("avatar", "avatar-sm");
    who.appendChild(picture);
    var label = document.createElement("span");
    var strong = document.createElement("strong");
    strong.textContent = name(guest.user);
    var handle = document.createElement("span");
    handle.className = "muted small";
    handle.textContent = "@" + guest.user.username;
    label.appendChild(strong);
    label.appendChild(document.createElement("br"));
    label.appendChild(handle);
    who.appendChild(label);
    item.appendChild(who);
    var actions = document.createElement("span");
    actions.className = "guests-actions";
    var target = { user_id: guest.user.id };
    if (guest.status === "active") {
      actions.appendChild(actionButton(d.labelRemove, fill(d.labelRemoveNamed, guest.user), "danger", function (b) {
        if (!window.confirm(fill(d.msgConfirmRemove, guest.user))) return;
        send("guest_remove", target, b);
      }));
    } else if (guest.status === "requested") {
      actions.appendChild(actionButton(d.labelAccept, fill(d.labelAcceptNamed, guest.user), "primary", function (b) {
        send("guest_accept", target, b);
      }));
      actions.appendChild(actionButton(d.labelDecline, fill(d.labelDeclineNamed, guest.user), "ghost", function (b) {
        send("guest_remove", target, b);
      }));
    } else if (guest.status === "invited") {
      actions.appendChild(actionButton(d.labelWithdraw, fill(d.labelWithdrawNamed, guest.user), "ghost", function (b) {
        send("guest_remove", target, b);
      }));
    }
    item.appendChild(actions);
    return item;
  }

  function drawGuests(guests) {
    var groups = { active: [], requested: [], invited: [] };
    guests.forEach(function (guest) { if (groups[guest.status]) groups[guest.status].push(guest); });
    Object.keys(groups).forEach(function (status) {
      var list = root.querySelector('[data-guests-list="' + status + '"]');
      list.replaceChildren.apply(list, groups[status].map(row));
      var empty = root.querySelector('[data-guests-empty="' + status + '"]');
      if (empty) empty.hidden = groups[status].length > 0;
    });
    countPill.textContent = d.fmtCount.replace("{n}", groups.active.length).replace("{max}", d.maxGuests);
  }

  inviteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = inviteForm.username;
    var username = input.value.trim().replace(/^@/, "");
    if (!username) { input.focus(); return; }
    send("guest_invite", { username: username }, inviteForm.querySelector("button"), function (reply) {
      input.value = "";
      say(fill(d.msgInvited, reply.guest && reply.guest.user));
    });
  });

  function start(liveId) {
    if (socket || !liveId) return;
    root.hidden = false;
    socket = window.LiveLiteStage.attach({
      liveId: liveId,
      invite: d.invite,
      stageUrl: d.stageUrl.replace("/0/", "/" + liveId + "/") + (d.invite ? "?invite=" + encodeURIComponent(d.invite) : ""),
      onFeeds: stage.update,
      onGuests: drawGuests,
      onEnded: function () {
        stage.clear();
        inviteForm.hidden = true;
        root.querySelectorAll(".guests-actions button").forEach(function (b) { b.disabled = true; });
      },
    });
  }

  // A live already running is known at once; otherwise publisher.js tells us when the
  // host goes live.
  var known = d.liveId || (studio && studio.dataset.liveId);
  if (known) start(known);
  else if (studio) {
    studio.addEventListener("livelite:live", function (event) { start(event.detail.liveId); });
  }
})();
