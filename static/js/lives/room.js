// The live room (docs/realtime.md, namespace /live), for viewers (lives/_room.html)
// and for the host in the studio (studio/_room.html): chat, hearts, questions, the
// pinned question over the video, the room's rules and moderation.
//
// One Socket.IO connection per page: window.LiveLiteRoom.connect() makes it once and
// hands the same socket to whoever asks (watch.js listens to it for the viewer count
// and the end of the live). The server decides everything; this file only draws
// what it is told and sends what the person does. Every piece of text that a person
// wrote goes in through textContent, never as HTML. No inline script (CSP): the
// sentences come from data-* attributes that the templates render in the reader's
// language.
(function () {
  "use strict";

  var shared = null;

  function connect(liveId, invite) {
    if (!shared) {
      shared = window.io("/live", { auth: { live_id: Number(liveId), invite: invite || null } });
    }
    return shared;
  }

  window.LiveLiteRoom = { connect: connect };

  var root = document.querySelector("[data-room]");
  if (!root || !window.io) return;

  var d = root.dataset;
  var STAFF = { moderator: true, host: true, admin: true };
  var MAX_MESSAGES = 200;
  var ACK_TIMEOUT = 10000;
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var lang = document.documentElement.lang || "en";

  function $(sel) { return root.querySelector(sel); }
  function $$(sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }
  // Overlays that live on the video, outside the room's own box.
  function everywhere(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  var log = $("[data-room-log]");
  var logEmpty = $("[data-room-empty]");
  var newButton = $("[data-room-new]");
  var notes = $("[data-room-notes]");
  var statusLine = $("[data-room-status]");
  var chatError = $("[data-room-error]");
  var composer = $("[data-room-composer]");
  var input = $("[data-room-input]");
  var sendButton = $("[data-room-send]");
  var counter = $("[data-room-counter]");
  var composerNote = $("[data-room-composer-note]");
  var likeButton = $("[data-room-like]");
  var askForm = $("[data-room-ask]");
  var askInput = $("[data-room-ask-input]");
  var askAnon = $("[data-room-ask-anon]");
  var askNote = $("[data-room-ask-note]");
  var askError = $("[data-room-ask-error]");
  var askSend = $("[data-room-ask-send]");
  var questionList = $("[data-room-questions]");
  var questionsEmpty = $("[data-room-questions-empty]");
  var settingsForm = $("[data-room-settings]");
  var settingsError = $("[data-room-settings-error]");
  var dialog = $("[data-room-dialog]");

  // -- what the server told us ------------------------------------------------------
  var socket = null;
  var you = { user_id: null, role: "visitor", can_chat: false, muted_until: null, voted: [] };
  var settings = { slow_mode_seconds: 0, followers_only: false, comments_off: false, anonymous_questions: false };
  var messages = [];            // payloads on screen, oldest first
  var questions = {};           // id -> question
  var pinned = null;
  var voted = {};               // question ids this person upvoted
  var asked = {};               // question ids this person asked (no upvoting one's own)
  var likesTotal = 0;
  var ended = false, closed = false;
  var awaiting = 0;             // actions sent whose acknowledgement has not come back

  // -- small helpers -----------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function fill(pattern, values) {
    return String(pattern || "").replace(/\{(\w+)\}/g, function (all, key) {
      return key in values ? values[key] : all;
    });
  }

  // ngettext's two forms, rendered by the template as data-<key>-one / -other; the page
  // language's plural rule picks one (French says "0 minute", English "0 minutes").
  function plural(key, n) {
    var one = new Intl.PluralRules(lang).select(n) === "one";
    return fill(d[key + (one ? "One" : "Other")], { n: n });
  }

  function isStaff() { return !!STAFF[you.role]; }
  function isHost() { return you.role === "host" || you.role === "admin"; }
  function loggedIn() { return you.user_id != null; }
  function nameOf(user) { return user ? (user.display_name || user.username) : d.labelAnonymous; }

  // Icons are built, not parsed: nothing on this page goes through innerHTML.
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    more: "M6 10a2 2 0 1 0 0 4 2 2 0 0 0 0-4Zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4Zm6 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4Z",
    heart: "M12 21s-7.5-4.6-10-9.3C.4 8.4 2.3 4.5 6 4.1c2.2-.2 4 1 6 3 2-2 3.8-3.2 6-3 3.7.4 5.6 4.3 4 7.6C19.5 16.4 12 21 12 21Z",
    up: "M12 4 4 14h5v6h6v-6h5z",
  };
  function icon(name, size) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", size);
    svg.setAttribute("height", size);
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function say(node, text) { if (node) node.textContent = text || ""; }

  function status(text, undo) {
    if (!statusLine) return;
    statusLine.textContent = text || "";
    if (undo) {
      var button = el("button", "button small", undo.label);
      button.type = "button";
      button.addEventListener("click", function () { button.disabled = true; undo.run(); });
      statusLine.appendChild(document.createTextNode(" "));
      statusLine.appendChild(button);
    }
  }

  // Send one action; ``done(reply)`` gets the acknowledgement ({ok: false, error} on
  // refusal or when no answer came in time).
  function send(event, payload, done) {
    if (!socket) return;
    awaiting += 1;
    socket.timeout(ACK_TIMEOUT).emit(event, payload, function (err, reply) {
      awaiting = Math.max(0, awaiting - 1);
      if (err || !reply) reply = { ok: false, code: "timeout", error: d.msgTimeout };
      if (done) done(reply);
    });
  }

  // A countdown in a line of text: ``render(n)`` gives the sentence for n seconds left.
  function countdown(seconds, render, onTick, onEnd) {
    var left = Math.max(1, Math.ceil(seconds));
    var timer = null;
    function tick() {
      if (left <= 0) { clearInterval(timer); if (onEnd) onEnd(); return; }
      onTick(render(left));
      left -= 1;
    }
    tick();
    timer = setInterval(tick, 1000);
    return { stop: function () { clearInterval(timer); } };
  }

  // -- tabs (viewer page): arrows move between them, as in any tab list ----------------
  var tablist = $("[data-room-tabs]");
  if (tablist) {
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll("[role=tab]"));
    var select = function (tab, focus) {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", String(on));
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
      });
      if (focus) tab.focus();
      if (tab.id === "room-tab-chat") stickToBottom();
    };
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        else if (event.key === "Home") next = tabs[0];
        else if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) { event.preventDefault(); select(next, true); }
      });
    });
  }

  // -- chat --------------------------------------------------------------------------
  function atBottom() {
    return !log || log.scrollHeight - log.scrollTop - log.clientHeight < 32;
  }

  function stickToBottom() {
    if (!log) return;
    log.scrollTop = log.scrollHeight;
    if (newButton) newButton.hidden = true;
  }

  function avatarNode(user) {
    if (user && user.avatar_url) {
      var img = el("img", "avatar room-avatar");
      img.src = user.avatar_url;
      img.alt = "";
      img.loading = "lazy";
      return img;
    }
    var initial = el("span", "avatar room-avatar avatar-initial", nameOf(user).slice(0, 1).toUpperCase());
    initial.setAttribute("aria-hidden", "true");
    return initial;
  }

  function roleBadge(role) {
    var label = role && d["role" + role.charAt(0).toUpperCase() + role.slice(1)];
    if (!label || role === "viewer" || role === "visitor") return null;
    return el("span", "room-role room-role-" + role, label);
  }

  // What this person may do to a message: report others', and as staff delete any and
  // sanction viewers (never the host or other staff: the server refuses it anyway).
  function actionsFor(message) {
    var author = message.user || {};
    var own = author.id === you.user_id;
    var authorIsStaff = !!STAFF[message.role];
    return {
      report: loggedIn() && !own,
      delete: isStaff(),
      sanction: isStaff() && !own && !authorIsStaff,
      moderator: isHost() && !own && !authorIsStaff,
    };
  }

  function hasActions(message) {
    var a = actionsFor(message);
    return a.report || a.delete || a.sanction || a.moderator;
  }

  function messageNode(message) {
    var item = el("li", "room-msg");
    item.dataset.id = message.id;
    if (message.user) item.dataset.userId = message.user.id;
    if (message.user && message.user.id === you.user_id) item.classList.add("is-own");
    item.appendChild(avatarNode(message.user));
    var body = el("p", "room-msg-body");
    body.appendChild(el("span", "room-msg-author", nameOf(message.user)));
    var badge = roleBadge(message.role);
    if (badge) { body.appendChild(document.createTextNode(" ")); body.appendChild(badge); }
    body.appendChild(document.createTextNode(" "));
    body.appendChild(el("span", "room-msg-text", message.body));
    item.appendChild(body);
    if (hasActions(message)) {
      var more = el("button", "room-msg-more");
      more.type = "button";
      more.setAttribute("aria-haspopup", "dialog");
      more.setAttribute("aria-label", fill(d.labelActions, { name: nameOf(message.user) }));
      more.appendChild(icon("more", 20));
      more.addEventListener("click", function () { openActions(message, more); });
      item.appendChild(more);
    }
    return item;
  }

  function updateEmpty() {
    if (logEmpty) logEmpty.hidden = messages.length > 0;
  }

  function addMessage(message, initial) {
    if (!log) return;
    if (log.querySelector('[data-id="' + Number(message.id) + '"]')) {
      if (initial) stickToBottom(); // one's own message, already come by broadcast
      return;
    }
    var stick = initial || atBottom();
    messages.push(message);
    log.appendChild(messageNode(message));
    // Keep the page light in a busy room: the oldest lines go.
    while (messages.length > MAX_MESSAGES) {
      messages.shift();
      var first = log.firstElementChild;
      if (!first) break;
      var height = first.offsetHeight;
      log.removeChild(first);
      if (!stick) log.scrollTop -= height;
    }
    updateEmpty();
    if (stick) stickToBottom();
    else if (newButton) newButton.hidden = false;
  }

  function removeMessages(ids) {
    var gone = {};
    ids.forEach(function (id) { gone[id] = true; });
    messages = messages.filter(function (m) { return !gone[m.id]; });
    ids.forEach(function (id) {
      var node = log && log.querySelector('[data-id="' + Number(id) + '"]');
      if (node) node.remove();
    });
    if (dialog && dialog.open && current && gone[current.message.id]) dialog.close();
    updateEmpty();
  }

  function redrawMessages() {
    if (!log) return;
    var stick = atBottom();
    log.replaceChildren.apply(log, messages.map(messageNode));
    updateEmpty();
    if (stick) stickToBottom();
  }

  if (log) {
    log.addEventListener("scroll", function () { if (newButton && atBottom()) newButton.hidden = true; });
  }
  if (newButton) newButton.addEventListener("click", function () { stickToBottom(); log.focus(); });

  // -- the composer: why it is closed, the counter, sending --------------------------
  var chatWait = null;        // countdown after a refusal with retry_after, or slow mode
  var slowWait = false;       // that countdown is slow mode's (ends if the host turns it off)
  var muteTimer = null;

  function mutedSentence() {
    if (!you.muted_until) return "";
    if (you.muted_until === "live") return d.msgMutedLive;
    var left = (Date.parse(you.muted_until) - Date.now()) / 60000;
    if (!(left > 0)) return "";
    return plural("msgMuted", Math.max(1, Math.ceil(left)));
  }

  // Why this person cannot write now, or "" when they can.
  function closedReason() {
    if (closed) return d.msgKicked;
    if (ended) return d.msgEnded;
    var muted = mutedSentence();
    if (muted) return muted;
    if (settings.comments_off && !isStaff()) return d.msgCommentsOff;
    // can_chat is the server's word at join time; it is only about following here.
    if (settings.followers_only && !isStaff() && you.can_chat === false) return d.msgFollowersOnlyNote;
    return "";
  }

  function drawComposer() {
    drawNotes();
    if (!composer) return;
    var reason = closedReason();
    input.disabled = !!reason;
    sendButton.disabled = !!reason || !!chatWait;
    if (likeButton) likeButton.disabled = ended || closed;
    composer.classList.toggle("is-closed", !!reason);
    if (reason || !chatWait) say(composerNote, reason);
    clearTimeout(muteTimer);
    // A timed mute ends by itself: look again when the next minute starts.
    if (you.muted_until && you.muted_until !== "live" && mutedSentence()) muteTimer = setTimeout(drawComposer, 15000);
  }

  function drawNotes() {
    if (!notes) return;
    notes.replaceChildren();
    var add = function (text) { notes.appendChild(el("li", "room-note-pill", text)); };
    if (settings.slow_mode_seconds) add(fill(d.fmtSlowMode, { n: settings.slow_mode_seconds }));
    if (settings.followers_only) add(d.msgFollowersOnly);
    if (settings.comments_off) add(d.msgCommentsOff);
    notes.hidden = !notes.childElementCount;
  }

  function drawCounter() {
    if (!counter) return;
    counter.textContent = input.value.length + "/" + counter.dataset.max;
    counter.classList.toggle("is-near", input.value.length > Number(counter.dataset.max) * 0.9);
  }

  function wait(seconds, key, line, button, then) {
    return countdown(seconds, function (n) { return plural(key, n); }, function (text) {
      say(line, text);
      if (button) button.disabled = true;
    }, then);
  }

  function showChatError(reply) {
    say(chatError, reply.error);
    if (chatWait) { chatWait.stop(); chatWait = null; slowWait = false; }
    if (reply.retry_after && composer) {
      chatWait = wait(reply.retry_after, "msgRetry", composerNote, sendButton, function () {
        chatWait = null;
        say(chatError, "");
        drawComposer();
      });
    }
  }

  if (composer) {
    input.addEventListener("input", function () { drawCounter(); if (!chatWait) say(chatError, ""); });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = input.value.trim();
      if (!body || sendButton.disabled) return;
      sendButton.disabled = true;
      send("chat_send", { body: body }, function (reply) {
        sendButton.disabled = false;
        if (!reply.ok) {
          // The text stays in the box: nothing typed is lost to a refusal.
          showChatError(reply);
          return;
        }
        input.value = "";
        drawCounter();
        say(chatError, "");
        if (reply.message) addMessage(reply.message, true);
        if (settings.slow_mode_seconds && !isStaff()) {
          slowWait = true;
          chatWait = wait(settings.slow_mode_seconds, "msgSlowWait", composerNote, sendButton, function () {
            chatWait = null;
            slowWait = false;
            drawComposer();
          });
        }
        drawComposer();
        input.focus();
      });
    });
    drawCounter();
  }

  // -- hearts: taps gathered and sent every half second --------------------------------
  var pendingLikes = 0;       // taps not sent yet
  var ownInFlight = 0;        // sent, not yet counted in a "likes" broadcast
  var likeCap = Math.max(1, Math.floor(Number(d.likesPerSecond || 20) / 2));

  function drawLikes() {
    $$("[data-room-likes]").forEach(function (node) { node.textContent = likesTotal; });
    var label = $("[data-room-likes-label]");
    if (label) label.textContent = plural("labelLikes", likesTotal);
  }

  function floatHearts(count) {
    if (reducedMotion || document.hidden) return;
    var layers = everywhere("[data-room-hearts]");
    count = Math.min(count, 8);
    layers.forEach(function (layer) {
      for (var i = 0; i < count; i++) {
        var heart = el("span", "room-heart room-heart-" + (1 + Math.floor(Math.random() * 4)));
        heart.appendChild(icon("heart", 28));
        heart.classList.add("room-heart-delay-" + (i % 4));
        heart.addEventListener("animationend", function () { this.remove(); });
        layer.appendChild(heart);
      }
    });
  }

  if (likeButton) {
    likeButton.addEventListener("click", function () {
      if (likeButton.disabled) return;
      pendingLikes += 1;
      floatHearts(1);
      likeButton.classList.remove("is-pulsing");
      void likeButton.offsetWidth; // restart the pulse
      likeButton.classList.add("is-pulsing");
    });
    setInterval(function () {
      if (!pendingLikes || !socket || !socket.connected) return;
      // Never more than the server takes per second: surplus taps are just not sent.
      var count = Math.min(pendingLikes, likeCap, 50);
      pendingLikes = 0;
      ownInFlight += count;
      send("like", { count: count }, function (reply) {
        if (!reply.ok) {
          ownInFlight = Math.max(0, ownInFlight - count);
          if (reply.code !== "rate_limited") showChatError(reply);
        }
      });
    }, 500);
  }

  // -- questions -----------------------------------------------------------------------
  function allQuestions() {
    return Object.keys(questions).map(function (id) { return questions[id]; });
  }

  // Open ones by votes then age (the host's queue order), then the answered ones,
  // the latest answer first. Dismissed ones (staff only get them) are not shown.
  function sortedQuestions() {
    var all = allQuestions().filter(function (q) { return q.status !== "dismissed"; });
    var open = all.filter(function (q) { return q.status === "open"; });
    var answered = all.filter(function (q) { return q.status === "answered"; });
    open.sort(function (a, b) { return (b.votes - a.votes) || (a.id - b.id); });
    answered.sort(function (a, b) { return (b.answered_offset_ms || 0) - (a.answered_offset_ms || 0) || b.id - a.id; });
    return open.concat(answered);
  }

  function questionNode(q) {
    var item = el("li", "room-q is-" + q.status);
    item.dataset.id = q.id;
    var isPinned = pinned && pinned.id === q.id;
    if (isPinned) item.classList.add("is-pinned");
    var main = el("div", "room-q-main");
    var text = el("p", "room-q-text", q.body);
    text.id = "room-q-" + q.id;
    main.appendChild(text);
    var meta = el("p", "room-q-meta");
    meta.appendChild(el("span", "room-q-author", nameOf(q.author)));
    if (q.status === "answered") {
      meta.appendChild(el("span", "room-q-state", isPinned ? d.labelPinned : d.labelAnswered));
    }
    main.appendChild(meta);
    item.appendChild(main);

    var vote = el("button", "room-vote");
    vote.type = "button";
    vote.dataset.key = "vote";
    var mine = asked[q.id] || (q.author && q.author.id === you.user_id);
    var hasVoted = !!voted[q.id];
    vote.setAttribute("aria-pressed", String(hasVoted));
    vote.setAttribute("aria-label", plural("labelUpvote", q.votes));
    vote.setAttribute("aria-describedby", text.id);
    vote.disabled = !loggedIn() || hasVoted || mine || q.status !== "open" || ended;
    vote.appendChild(icon("up", 18));
    vote.appendChild(el("span", "room-vote-count", String(q.votes)));
    vote.addEventListener("click", function () {
      vote.disabled = true;
      send("question_vote", { question_id: q.id }, function (reply) {
        if (reply.ok || reply.code === "already_voted") {
          voted[q.id] = true;
          if (reply.ok && reply.votes != null && questions[q.id]) questions[q.id].votes = Math.max(questions[q.id].votes, reply.votes);
        } else {
          say(askError || chatError, reply.error);
        }
        drawQuestions();
      });
    });
    item.appendChild(vote);

    var actions = el("div", "room-q-staff");
    if (isStaff() && !ended) {
      if (q.status === "open") {
        actions.appendChild(staffButton(d.labelAnswer, "answer", text.id, function () {
          return ["question_answer", { question_id: q.id }];
        }));
        actions.appendChild(staffButton(d.labelDismiss, "dismiss", text.id, function () {
          return ["question_dismiss", { question_id: q.id }];
        }));
      } else if (isPinned) {
        actions.appendChild(staffButton(d.labelUnpin, "unpin", text.id, function () {
          return ["question_unpin", {}];
        }));
      } else if (q.status === "answered") {
        // Answering again puts it back on every screen, in place of the pinned one.
        actions.appendChild(staffButton(d.labelRepin, "answer", text.id, function () {
          return ["question_answer", { question_id: q.id }];
        }));
      }
    }
    if (actions.childElementCount) main.appendChild(actions);
    return item;
  }

  function staffButton(label, key, describedBy, action) {
    var button = el("button", "button small room-q-" + key, label);
    button.type = "button";
    button.dataset.key = key;
    button.setAttribute("aria-describedby", describedBy);
    button.addEventListener("click", function () {
      button.disabled = true;
      var call = action();
      send(call[0], call[1], function (reply) {
        button.disabled = false;
        if (!reply.ok) status(reply.error);
      });
    });
    return button;
  }

  function drawQuestions() {
    if (!questionList) return;
    // Redrawing moves items; the button that had focus gets it back.
    var active = document.activeElement;
    var focusKey = null;
    if (active && questionList.contains(active)) {
      var holder = active.closest("[data-id]");
      focusKey = holder && { id: holder.dataset.id, key: active.dataset.key };
    }
    var list = sortedQuestions();
    questionList.replaceChildren.apply(questionList, list.map(questionNode));
    if (questionsEmpty) questionsEmpty.hidden = list.length > 0;
    var open = list.filter(function (q) { return q.status === "open"; }).length;
    $$("[data-room-question-count]").forEach(function (pill) {
      pill.textContent = open;
      pill.hidden = !open;
    });
    if (focusKey) {
      var item = questionList.querySelector('[data-id="' + Number(focusKey.id) + '"]');
      var again = item && (item.querySelector('[data-key="' + focusKey.key + '"]:not([disabled])') ||
                           item.querySelector("button:not([disabled])"));
      if (again) again.focus();
    }
  }

  function drawPinned() {
    var overlays = everywhere("[data-room-pinned]");
    overlays.forEach(function (box) {
      box.hidden = !pinned || ended;
      if (!pinned) return;
      box.querySelector("[data-room-pinned-text]").textContent = pinned.body;
      box.querySelector("[data-room-pinned-author]").textContent = nameOf(pinned.author);
      var unpin = box.querySelector("[data-room-unpin]");
      if (unpin) unpin.hidden = !isStaff() || ended;
    });
  }

  everywhere("[data-room-unpin]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      send("question_unpin", {}, function (reply) {
        button.disabled = false;
        if (!reply.ok) status(reply.error);
      });
    });
  });

  var askWait = null;

  function drawAsk() {
    if (!askForm) return;
    var anon = $("[data-room-anon]");
    if (anon) anon.hidden = !settings.anonymous_questions;
    if (!settings.anonymous_questions && askAnon) askAnon.checked = false;
    var reason = closed ? d.msgKicked : ended ? d.msgEnded : mutedSentence();
    askInput.disabled = !!reason;
    askSend.disabled = !!reason || !!askWait;
    if (reason) say(askNote, reason);
    else if (!askWait) say(askNote, "");
  }

  function askCooldown(seconds) {
    if (askWait) askWait.stop();
    askWait = wait(seconds, "msgAskWait", askNote, askSend, function () {
      askWait = null;
      drawAsk();
    });
  }

  if (askForm) {
    askForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = askInput.value.trim();
      if (!body || askSend.disabled) return;
      askSend.disabled = true;
      var payload = { body: body };
      if (askAnon && askAnon.checked && settings.anonymous_questions) payload.anonymous = true;
      send("question_ask", payload, function (reply) {
        askSend.disabled = false;
        if (!reply.ok) {
          say(askError, reply.error);
          if (reply.retry_after) askCooldown(reply.retry_after);
          drawAsk();
          return;
        }
        say(askError, "");
        askInput.value = "";
        if (reply.question) {
          asked[reply.question.id] = true;
          questions[reply.question.id] = reply.question;
          drawQuestions();
        }
        var ready = reply.next_question_at ? (Date.parse(reply.next_question_at) - Date.now()) / 1000 : 0;
        if (ready > 0) askCooldown(ready);
        drawAsk();
      });
    });
    // Enter sends the question, Shift+Enter makes a new line.
    askInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        askForm.requestSubmit();
      }
    });
  }

  // -- the studio's room switches ------------------------------------------------------
  function drawSettings() {
    if (!settingsForm) return;
    var select = settingsForm.elements.slow_mode_seconds;
    var value = String(settings.slow_mode_seconds || 0);
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === value; })) {
      var option = el("option", null, fill(d.fmtSlowMode, { n: value }));
      option.value = value;
      select.appendChild(option);
    }
    select.value = value;
    ["followers_only", "comments_off", "anonymous_questions"].forEach(function (name) {
      settingsForm.elements[name].checked = !!settings[name];
    });
    Array.prototype.forEach.call(settingsForm.elements, function (field) {
      field.disabled = !isStaff() || ended;
    });
  }

  if (settingsForm) {
    settingsForm.addEventListener("submit", function (event) { event.preventDefault(); });
    settingsForm.addEventListener("change", function (event) {
      var field = event.target;
      var change = {};
      change[field.name] = field.type === "checkbox" ? field.checked : Number(field.value);
      say(settingsError, "");
      send("room_settings", change, function (reply) {
        if (!reply.ok) {
          say(settingsError, reply.error);
          drawSettings(); // back to what the room really has
        }
      });
    });
  }

  // -- a message's actions (one dialog for all) ----------------------------------------
  var current = null;   // {message, opener}

  function view(name) {
    $$("[data-room-view]").forEach(function (box) { box.hidden = box.dataset.roomView !== name; });
  }

  function openActions(message, opener) {
    if (!dialog) return;
    current = { message: message, opener: opener };
    var allowed = actionsFor(message);
    $("[data-room-dialog-title]").textContent = fill(d.labelDialogTitle, { name: nameOf(message.user) });
    $("[data-room-dialog-quote]").textContent = message.body;
    dialog.querySelector('[data-act="report"]').hidden = !allowed.report;
    dialog.querySelector('[data-act="delete"]').hidden = !allowed.delete;
    $$("[data-sanction]").forEach(function (b) { b.hidden = !allowed.sanction; });
    dialog.querySelector('[data-act="moderator"]').hidden = !allowed.moderator;
    $$("[data-room-dialog] [data-act]").forEach(function (b) { b.disabled = false; });
    say($("[data-room-dialog-error]"), "");
    $("[data-room-report-reason]").value = "";
    view("actions");
    dialog.showModal();
    var first = dialog.querySelector('[data-room-view="actions"] button:not([hidden])');
    if (first) first.focus();
  }

  function confirmThen(text, label, run) {
    $("[data-room-confirm-text]").textContent = text;
    var button = $("[data-room-confirm-button]");
    button.textContent = label;
    button.onclick = run;
    view("confirm");
    button.focus();
  }

  function act(event, payload, done) {
    var buttons = $$("[data-room-dialog] [data-act]");
    buttons.forEach(function (b) { b.disabled = true; });
    send(event, payload, function (reply) {
      buttons.forEach(function (b) { b.disabled = false; });
      if (!reply.ok) { say($("[data-room-dialog-error]"), reply.error); return; }
      dialog.close();
      if (done) done(reply);
    });
  }

  if (dialog) {
    dialog.addEventListener("close", function () {
      if (current && current.opener && current.opener.isConnected) current.opener.focus();
      else if (log) log.focus();
      current = null;
    });
    dialog.addEventListener("click", function (event) {
      var button = event.target.closest("[data-act]");
      if (!button || !current || button.dataset.act === "confirm") return;
      var message = current.message;
      var user = message.user || {};
      var name = nameOf(message.user);
      switch (button.dataset.act) {
        case "report":
          view("report");
          $("[data-room-report-reason]").focus();
          break;
        case "send-report":
          var reason = $("[data-room-report-reason]").value.trim();
          if (!reason) { say($("[data-room-dialog-error]"), d.msgReportEmpty); return; }
          act("report", { message_id: message.id, reason: reason }, function () { status(d.msgReported); });
          break;
        case "delete":
          act("message_delete", { message_id: message.id }, function () {
            removeMessages([message.id]);
            status(d.msgDeleted);
          });
          break;
        case "mute":
          act("user_mute", { user_id: user.id, duration: button.dataset.duration }, function () {
            status(fill(d.msgMutedDone, { name: name }), {
              label: d.msgUnmute,
              run: function () {
                send("user_unmute", { user_id: user.id }, function (reply) {
                  status(reply.ok ? fill(d.msgUnmuted, { name: name }) : reply.error);
                });
              },
            });
          });
          break;
        case "kick":
          confirmThen(fill(d.confirmKick, { name: name }), d.labelKick, function () {
            act("user_kick", { user_id: user.id }, function () { status(fill(d.msgKickedDone, { name: name })); });
          });
          break;
        case "ban":
          confirmThen(fill(d.confirmBan, { name: name }), d.labelBan, function () {
            act("user_ban", { user_id: user.id }, function () { status(fill(d.msgBannedDone, { name: name })); });
          });
          break;
        case "moderator":
          confirmThen(fill(d.confirmModerator, { name: name }), d.labelMakeModerator, function () {
            act("moderator_set", { user_id: user.id, moderator: true }, function () {
              status(fill(d.msgModeratorDone, { name: name }));
            });
          });
          break;
      }
    });
  }

  // -- drawing the whole room, then each event -------------------------------------------
  function applyYou(next) {
    var before = you.role;
    var wasStaff = isStaff();
    you = next || you;
    (you.voted || []).forEach(function (id) { voted[id] = true; });
    if (before !== you.role) {
      if (isStaff() && !wasStaff) status(d.msgNowModerator);
      else if (!isStaff() && wasStaff) status(d.msgNoLongerModerator);
    }
    if (you.next_question_at) {
      var left = (Date.parse(you.next_question_at) - Date.now()) / 1000;
      if (left > 0) askCooldown(left);
    }
    if (wasStaff !== isStaff()) {
      redrawMessages();
      drawQuestions();
    }
    drawComposer();
    drawAsk();
    drawSettings();
    drawPinned();
  }

  function drawState(state) {
    likesTotal = state.likes || 0;
    settings = state.settings || settings;
    you = state.you || you;
    voted = {};
    (you.voted || []).forEach(function (id) { voted[id] = true; });
    messages = [];
    if (log) log.replaceChildren();
    (state.messages || []).forEach(function (m) { addMessage(m, true); });
    updateEmpty();
    questions = {};
    (state.questions || []).forEach(function (q) { questions[q.id] = q; });
    pinned = state.pinned || null;
    drawLikes();
    drawViewers(state.viewers);
    applyYou(you);
    drawQuestions();
    stickToBottom();
  }

  function drawViewers(count) {
    if (count == null) return;
    $$("[data-room-viewers]").forEach(function (node) {
      node.textContent = count;
      node.setAttribute("aria-label", plural("labelViewers", count));
    });
  }

  function endRoom(text) {
    if (askWait) { askWait.stop(); askWait = null; }
    if (chatWait) { chatWait.stop(); chatWait = null; }
    pendingLikes = 0;
    if (dialog && dialog.open) dialog.close();
    say(chatError, "");
    drawComposer();
    drawAsk();
    drawSettings();
    drawPinned();
    drawQuestions();
    if (text) status(text);
  }

  function listen() {
    socket.on("room_state", drawState);
    socket.on("chat", function (message) { addMessage(message, false); });
    socket.on("chat_removed", function (data) { removeMessages(data.ids || []); });
    socket.on("likes", function (data) {
      likesTotal = Math.max(likesTotal, data.total || 0);
      drawLikes();
      var others = Math.max(0, (data.added || 0) - ownInFlight);
      ownInFlight = Math.max(0, ownInFlight - (data.added || 0));
      floatHearts(others);
    });
    socket.on("question", function (q) {
      questions[q.id] = q;
      if (pinned && pinned.id === q.id) pinned = q.status === "answered" ? q : null;
      drawQuestions();
      drawPinned();
    });
    // Dismissed: gone for viewers (staff get it back at once as a dismissed question).
    socket.on("question_removed", function (data) {
      delete questions[data.id];
      drawQuestions();
    });
    socket.on("pinned", function (data) {
      pinned = data.question || null;
      if (pinned) questions[pinned.id] = pinned;
      drawPinned();
      drawQuestions();
    });
    socket.on("room_settings", function (next) {
      if (slowWait && !next.slow_mode_seconds && chatWait) {
        chatWait.stop();
        chatWait = null;
        slowWait = false;
      }
      settings = next;
      drawComposer();
      drawAsk();
      drawSettings();
    });
    socket.on("you", applyYou);
    socket.on("viewers", function (data) { drawViewers(data.count); });
    socket.on("kicked", function (data) {
      closed = true;
      endRoom();
      say(chatError, (data && data.message) || d.msgKicked);
    });
    socket.on("live_ended", function () {
      ended = true;
      endRoom();
    });
    // A refusal the acknowledgement does not already handle.
    socket.on("room_error", function (body) {
      if (awaiting > 0) return;
      showChatError(body);
    });
    socket.on("disconnect", function (reason) {
      if (closed || ended) return;
      if (reason !== "io client disconnect") status(d.msgOffline);
    });
    socket.on("connect", function () { if (statusLine && statusLine.textContent === d.msgOffline) status(""); });
    socket.on("connect_error", function (err) {
      // Refused by the server (kicked, banned, no access): it will not try again.
      if (!socket.active) {
        closed = true;
        endRoom();
        say(chatError, (err && err.message) || d.msgKicked);
      }
    });
  }

  function start(liveId) {
    if (socket || !liveId) return;
    root.dataset.liveId = liveId;
    root.hidden = false;
    var exportLink = $("[data-room-export]");
    if (exportLink) exportLink.href = d.exportUrl.replace("/0/", "/" + liveId + "/");
    socket = connect(liveId, d.invite);
    listen();
  }

  if (d.mode === "studio") {
    // The studio learns its live's id when the host goes live (publisher.js writes it
    // on the studio's data-live-id); a live already running is known at once.
    var studio = document.querySelector("[data-studio]");
    var known = d.liveId || (studio && studio.dataset.liveId);
    if (known) start(known);
    else if (studio) {
      new MutationObserver(function (changes, observer) {
        if (studio.dataset.liveId) { observer.disconnect(); start(studio.dataset.liveId); }
      }).observe(studio, { attributes: true, attributeFilter: ["data-live-id"] });
    }
  } else {
    start(d.liveId);
  }
})();
