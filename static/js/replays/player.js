// The replay player (templates/replays/show.html): the recording with hls.js (native
// HLS where hls.js cannot run, as on iOS Safari), and the live's chat and questions
// replayed on its time line.
//
// The time line (GET /replays/<id>/timeline.json: docs/realtime.md's message and
// question objects with ``t`` and ``answered_t``, milliseconds into the replay) is
// fetched once. Whatever the video's time, the page shows exactly what had happened
// by then: the chat messages with t <= now, in order; the questions asked so far,
// answered or not yet; the question answered last, pinned over the video. Playing on
// adds what comes; a seek either way draws it all again for the new time; a paused
// video changes nothing. Every piece of text a person wrote goes in through
// textContent, never as HTML. No inline script (CSP): the sentences come from the
// data-* attributes the template renders in the reader's language.
(function () {
  "use strict";

  var root = document.querySelector("[data-replay]");
  if (!root) return;

  var d = root.dataset;
  var lang = document.documentElement.lang || "en";
  var MAX_MESSAGES = 200;

  function $(sel) { return root.querySelector(sel); }
  function $$(sel) { return Array.prototype.slice.call(root.querySelectorAll(sel)); }

  var video = $("[data-replay-video]");
  var message = $("[data-replay-message]");
  var log = $("[data-replay-log]");
  var logEmpty = $("[data-replay-log-empty]");
  var errorLine = $("[data-replay-error]");
  var questionList = $("[data-replay-questions]");
  var questionsEmpty = $("[data-replay-questions-empty]");
  var questionCount = $("[data-replay-question-count]");
  var chapterList = $("[data-replay-chapters]");
  var chaptersEmpty = $("[data-replay-chapters-empty]");
  var chapterCount = $("[data-replay-chapter-count]");
  var pinnedBox = $("[data-replay-pinned]");
  var bar = $("[data-replay-bar]");
  var barTrack = $("[data-replay-bar-track]");
  var barFill = $("[data-replay-bar-fill]");

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

  // ngettext's two forms (data-<key>-one / -other); the page language picks one.
  function plural(key, n) {
    var one = new Intl.PluralRules(lang).select(n) === "one";
    return fill(d[key + (one ? "One" : "Other")], { n: n });
  }

  // 1:05, 1:02:05 — as the player shows times.
  function clock(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    var hours = Math.floor(seconds / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var secs = seconds % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return hours ? hours + ":" + two(minutes) + ":" + two(secs) : minutes + ":" + two(secs);
  }

  function say(node, text) { if (node) node.textContent = text || ""; }
  function nameOf(user) { return user ? (user.display_name || user.username) : d.labelAnonymous; }

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

  // -- tabs: arrows move between them, as in any tab list ----------------------------
  var tabs = $$("[data-replay-tabs] [role=tab]");
  function selectTab(tab, focus) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    });
    if (focus) tab.focus();
    if (tab.id === "replay-tab-chat") log.scrollTop = log.scrollHeight;
  }
  tabs.forEach(function (tab, index) {
    tab.addEventListener("click", function () { selectTab(tab, false); });
    tab.addEventListener("keydown", function (event) {
      var next = null;
      if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) { event.preventDefault(); selectTab(next, true); }
    });
  });

  // -- the video -------------------------------------------------------------------------
  var hls = null;
  var offsetMs = 0;       // where the source's 0 is on the replay's time line (a guest's feed)
  var pendingSeek = null; // seconds to go to once the source knows its length

  function load(src, isMp4, startSeconds, autoplay) {
    if (hls) { hls.destroy(); hls = null; }
    say(message, "");
    pendingSeek = startSeconds > 0 ? startSeconds : null;
    if (isMp4) {
      video.src = src;
    } else if (window.Hls && window.Hls.isSupported()) {
      video.removeAttribute("src");
      hls = new window.Hls({ startPosition: startSeconds > 0 ? startSeconds : -1, backBufferLength: 90 });
      pendingSeek = null;
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
        say(message, d.msgVideoFailed);
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    } else {
      say(message, d.msgUnsupported);
      return;
    }
    if (autoplay) video.play().catch(function () { /* refused: the controls stay */ });
  }

  video.addEventListener("loadedmetadata", function () {
    if (pendingSeek != null) {
      video.currentTime = pendingSeek;
      pendingSeek = null;
    }
  });
  video.addEventListener("error", function () {
    if (!hls && video.getAttribute("src")) say(message, d.msgVideoFailed);
  });
  video.addEventListener("playing", function () { say(message, ""); });

  // Milliseconds into the replay now.
  function now() { return Math.round(video.currentTime * 1000) + offsetMs; }

  // Go to a moment of the replay and play from there.
  function seekTo(ms) {
    var seconds = Math.max(0, (ms - offsetMs) / 1000);
    if (video.readyState >= 1) video.currentTime = seconds;
    else pendingSeek = seconds;
    video.play().catch(function () {});
  }

  // Whose video (guests' feeds, everyone side by side): the same moment in the other one.
  var sources = $$("[data-replay-source]");
  sources.forEach(function (button) {
    button.addEventListener("click", function () {
      if (button.getAttribute("aria-pressed") === "true") return;
      var at = now();
      var playing = !video.paused && !video.ended;
      sources.forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      offsetMs = Math.round(Number(button.dataset.offset || 0) * 1000);
      load(button.dataset.src, button.dataset.mp4 === "1", Math.max(0, (at - offsetMs) / 1000), playing);
    });
  });

  if (video.dataset.src) load(video.dataset.src, false, 0, false);

  // -- the time line -----------------------------------------------------------------
  var chat = [];
  var questions = [];
  var byId = {};
  var chapters = [];
  var duration = 0;
  var loaded = false;

  function byTime(a, b) { return (a.t - b.t) || (a.id - b.id); }

  // How many of ``list`` (sorted by t) have t <= ms.
  function countUpTo(list, ms) {
    var low = 0, high = list.length;
    while (low < high) {
      var mid = (low + high) >> 1;
      if (list[mid].t <= ms) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  // -- the chat ----------------------------------------------------------------------
  var shown = -1;  // the log shows the first ``shown`` messages (the last MAX_MESSAGES of them)

  function messageNode(item) {
    var node = el("li", "room-msg");
    node.dataset.id = item.id;
    node.appendChild(avatarNode(item.user));
    var body = el("p", "room-msg-body");
    body.appendChild(el("span", "room-msg-author", nameOf(item.user)));
    var badge = roleBadge(item.role);
    if (badge) { body.appendChild(document.createTextNode(" ")); body.appendChild(badge); }
    body.appendChild(document.createTextNode(" "));
    body.appendChild(el("span", "room-msg-text", item.body));
    node.appendChild(body);
    var at = el("span", "replay-msg-time", clock(item.t));
    at.setAttribute("aria-label", fill(d.labelAt, { time: clock(item.t) }));
    node.appendChild(at);
    return node;
  }

  function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 32; }

  function syncChat(ms, quiet) {
    var n = countUpTo(chat, ms);
    if (n === shown) return;
    var stick = atBottom();
    if (!quiet && shown >= 0 && n > shown && n - shown <= MAX_MESSAGES) {
      // Playing on: the next messages come in, as they did in the live.
      for (var i = shown; i < n; i++) log.appendChild(messageNode(chat[i]));
      while (log.childElementCount > MAX_MESSAGES) log.removeChild(log.firstElementChild);
    } else {
      // A seek (or the first drawing): the log as it stood at the new time, drawn
      // without a screen reader reading every line of it out.
      log.setAttribute("aria-live", "off");
      log.replaceChildren.apply(log, chat.slice(Math.max(0, n - MAX_MESSAGES), n).map(messageNode));
      setTimeout(function () { log.setAttribute("aria-live", "polite"); }, 100);
      stick = true;
    }
    shown = n;
    logEmpty.hidden = n > 0;
    say(logEmpty, chat.length ? d.msgChatLater : d.msgNoChat);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // -- the questions ------------------------------------------------------------------
  var questionsDrawn = null;  // what the list shows, as a string, to draw only on change

  function answeredBy(q, ms) { return q.answered_t != null && q.answered_t <= ms; }

  function questionNode(q, ms, pinnedId) {
    var answered = answeredBy(q, ms);
    var node = el("li", "room-q " + (answered ? "is-answered" : "is-open"));
    node.dataset.id = q.id;
    if (q.id === pinnedId) node.classList.add("is-pinned");
    var main = el("div", "room-q-main");
    main.appendChild(el("p", "room-q-text", q.body));
    var meta = el("p", "room-q-meta");
    meta.appendChild(el("span", "room-q-author", nameOf(q.author)));
    meta.appendChild(el("span", answered ? "room-q-state" : "replay-q-open", answered ? d.labelAnswered : d.labelOpen));
    main.appendChild(meta);
    node.appendChild(main);
    var votes = el("span", "room-vote replay-votes");
    votes.setAttribute("role", "img");
    votes.setAttribute("aria-label", plural("labelVotes", q.votes));
    var arrow = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    arrow.setAttribute("viewBox", "0 0 24 24");
    arrow.setAttribute("width", "18");
    arrow.setAttribute("height", "18");
    arrow.setAttribute("aria-hidden", "true");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12 4 4 14h5v6h6v-6h5z");
    arrow.appendChild(path);
    votes.appendChild(arrow);
    votes.appendChild(el("span", "room-vote-count", String(q.votes)));
    node.appendChild(votes);
    return node;
  }

  // Open ones by votes then age (the host's queue order), then the answered ones, the
  // latest answer first: the list as a viewer of the live saw it at that moment.
  function syncQuestions(ms, pinnedId) {
    var asked = questions.slice(0, countUpTo(questions, ms));
    var open = asked.filter(function (q) { return !answeredBy(q, ms); });
    var answered = asked.filter(function (q) { return answeredBy(q, ms); });
    open.sort(function (a, b) { return (b.votes - a.votes) || (a.id - b.id); });
    answered.sort(function (a, b) { return (b.answered_t - a.answered_t) || (b.id - a.id); });
    var list = open.concat(answered);
    var key = list.map(function (q) { return q.id + (answeredBy(q, ms) ? "a" : "o"); }).join(",") + "|" + pinnedId;
    if (key === questionsDrawn) return;
    questionsDrawn = key;
    questionList.replaceChildren.apply(questionList, list.map(function (q) { return questionNode(q, ms, pinnedId); }));
    questionsEmpty.hidden = list.length > 0;
    say(questionsEmpty, questions.length ? d.msgQuestionsLater : d.msgNoQuestions);
    questionCount.textContent = list.length;
    questionCount.hidden = !list.length;
  }

  // -- the pinned question and the chapters --------------------------------------------
  var pinnedShown;  // undefined until first drawn; then a chapter index or -1

  function currentChapter(ms) { return countUpTo(chapters, ms) - 1; }

  function syncPinned(index) {
    if (index === pinnedShown) return;
    pinnedShown = index;
    var chapter = chapters[index];
    var q = chapter && byId[chapter.question_id];
    pinnedBox.hidden = !q;
    if (q) {
      say(pinnedBox.querySelector("[data-replay-pinned-text]"), q.body);
      say(pinnedBox.querySelector("[data-replay-pinned-author]"), nameOf(q.author));
    }
    $$("[data-replay-chapter]").forEach(function (button, i) {
      if (i === index) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
    $$("[data-replay-marker]").forEach(function (mark, i) { mark.classList.toggle("is-current", i === index); });
  }

  function drawChapters() {
    chapterList.replaceChildren();
    chapters.forEach(function (chapter, index) {
      var item = el("li");
      var button = el("button", "replay-chapter");
      button.type = "button";
      button.dataset.replayChapter = "";
      button.setAttribute(
        "aria-label",
        fill(d.labelChapter, { n: index + 1, time: clock(chapter.t), title: chapter.title })
      );
      button.appendChild(el("span", "replay-chapter-time", clock(chapter.t)));
      button.appendChild(el("span", "replay-chapter-title", chapter.title));
      button.addEventListener("click", function () { seekTo(chapter.t); });
      item.appendChild(button);
      chapterList.appendChild(item);
    });
    chaptersEmpty.hidden = chapters.length > 0;
    chapterCount.textContent = chapters.length;
    chapterCount.hidden = !chapters.length;
  }

  // The chapters as marks on a bar under the video (a mouse shortcut).
  function drawBar() {
    if (!chapters.length || !duration) return;
    chapters.forEach(function (chapter) {
      var mark = el("span", "replay-bar-marker");
      mark.dataset.replayMarker = "";
      mark.title = clock(chapter.t) + " · " + chapter.title;
      mark.style.left = Math.min(100, (100 * chapter.t) / duration) + "%";
      mark.addEventListener("click", function (event) {
        event.stopPropagation();
        seekTo(chapter.t);
      });
      barTrack.appendChild(mark);
    });
    barTrack.addEventListener("click", function (event) {
      var box = barTrack.getBoundingClientRect();
      seekTo(Math.round(((event.clientX - box.left) / box.width) * duration));
    });
    bar.hidden = false;
  }

  function syncBar(ms) {
    if (bar.hidden) return;
    barFill.style.width = Math.min(100, Math.max(0, (100 * ms) / duration)) + "%";
  }

  // -- keeping it all at the video's time -------------------------------------------------
  function sync(quiet) {
    if (!loaded) return;
    var ms = now();
    var index = currentChapter(ms);
    syncChat(ms, quiet);
    syncPinned(index);
    syncQuestions(ms, chapters[index] ? chapters[index].question_id : null);
    syncBar(ms);
  }

  video.addEventListener("timeupdate", function () { sync(video.seeking); });
  video.addEventListener("seeking", function () { sync(true); });
  video.addEventListener("seeked", function () { sync(true); });
  video.addEventListener("loadedmetadata", function () { sync(true); });
  // A new source starts at 0 until it reaches the moment it was switched at.
  video.addEventListener("emptied", function () { shown = -1; });

  fetch(d.timelineUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then(function (data) {
      chat = (data.chat || []).slice().sort(byTime);
      questions = (data.questions || []).slice().sort(byTime);
      questions.forEach(function (q) { byId[q.id] = q; });
      chapters = (data.chapters || []).slice().sort(function (a, b) { return (a.t - b.t) || (a.question_id - b.question_id); });
      duration = data.duration_ms || 0;
      loaded = true;
      drawChapters();
      drawBar();
      sync(true);
    })
    .catch(function () {
      logEmpty.hidden = true;
      say(errorLine, d.msgTimelineFailed);
    });
})();
