// Multi-guest, the viewer's side (docs/realtime.md, "feeds", "you", "guest_*").
//
// window.LiveLiteStage is shared with the studio (studio/guests.js) and the guest page
// (studio/guest_page.js):
//   - grid(container, options) draws one muted, autoplaying hls.js tile per feed, with
//     the person's name, and keeps it in step with the `feeds` the server sends;
//   - attach(options) listens to the live's room connection (the page's shared one,
//     from room.js, when there is one) for room_state, feeds, you and guests, and
//     reads the stage once over HTTP too, since a shared connection may have received
//     its room_state before this file started listening.
// On the watch page ([data-stage-watch], lives/_guests.html) it shows the guests under
// the host's video and a "Request to join" button for people who are logged in.
// Names go in through textContent only; sentences come from data-* attributes.
(function () {
  "use strict";

  var HLS_CONFIG = {
    lowLatencyMode: true,
    liveSyncDuration: 2,
    liveMaxLatencyDuration: 8,
    maxLiveSyncPlaybackRate: 1.5,
    backBufferLength: 30,
    manifestLoadingMaxRetry: 30,
    levelLoadingMaxRetry: 30,
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function displayName(user) {
    return (user && (user.display_name || user.username)) || "";
  }

  // -- one tile: a guest's (or the host's) feed ---------------------------------------
  function Tile(feed, options) {
    var self = this;
    this.feed = feed;
    this.node = el("figure", "stage-tile" + (feed.host ? " is-host" : ""));
    this.node.dataset.feedId = feed.feed_id;
    this.node.dataset.userId = feed.user ? feed.user.id : "";
    this.video = el("video", "stage-video");
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.setAttribute("playsinline", "");
    this.video.setAttribute("aria-label", displayName(feed.user));
    var caption = el("figcaption", "stage-name");
    if (feed.host && options.hostLabel) caption.appendChild(el("span", "stage-host-badge", options.hostLabel));
    caption.appendChild(el("span", null, displayName(feed.user)));
    this.waiting = el("p", "stage-waiting", options.waitingLabel || "");
    this.node.appendChild(this.video);
    this.node.appendChild(this.waiting);
    this.node.appendChild(caption);
    // Only until the first picture: a live player stalls for a moment now and then, and
    // a label flashing over a moving picture would say something false.
    ["loadeddata", "playing", "timeupdate"].forEach(function (name) {
      self.video.addEventListener(name, function () { if (self.video.readyState >= 2) self.waiting.hidden = true; });
    });
    this.hls = null;
    this.retry = null;
  }

  Tile.prototype.start = function () {
    var self = this, src = this.feed.playlist, video = this.video;
    if (window.Hls && window.Hls.isSupported()) {
      this.hls = new window.Hls(HLS_CONFIG);
      this.hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (!data.fatal || !self.hls) return;
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { self.hls.recoverMediaError(); return; }
        // The guest's first segments may not be written yet: try again shortly.
        clearTimeout(self.retry);
        self.retry = setTimeout(function () { if (self.hls) self.hls.loadSource(src); }, 2000);
      });
      this.hls.loadSource(src);
      this.hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    }
    video.play().catch(function () { /* autoplay refused: the page's sound button plays it */ });
  };

  Tile.prototype.destroy = function () {
    clearTimeout(this.retry);
    if (this.hls) { this.hls.destroy(); this.hls = null; }
    this.video.removeAttribute("src");
    this.video.load();
    if (this.node.parentNode) this.node.parentNode.removeChild(this.node);
  };

  // -- the grid of tiles ---------------------------------------------------------------
  // options: includeHost (the host's feed gets a tile too), skipUserId (not one's own
  // feed), hostLabel, waitingLabel, onChange(count) after each redraw.
  function grid(container, options) {
    options = options || {};
    var tiles = {}; // feed id -> Tile
    var muted = true;

    function wanted(feeds) {
      return (feeds || []).filter(function (feed) {
        if (feed.host && !options.includeHost) return false;
        if (options.skipUserId && feed.user && feed.user.id === options.skipUserId) return false;
        return true;
      });
    }

    function update(feeds) {
      var keep = {};
      wanted(feeds).forEach(function (feed) {
        keep[feed.feed_id] = true;
        var tile = tiles[feed.feed_id];
        if (!tile) {
          tile = tiles[feed.feed_id] = new Tile(feed, options);
          tile.video.muted = muted;
          tile.start();
        }
        container.appendChild(tile.node); // in the server's order: host first
      });
      Object.keys(tiles).forEach(function (id) {
        if (!keep[id]) { tiles[id].destroy(); delete tiles[id]; }
      });
      var count = Object.keys(tiles).length;
      container.hidden = count === 0;
      container.dataset.count = String(count);
      if (options.onChange) options.onChange(count);
    }

    function setMuted(value) {
      muted = value;
      Object.keys(tiles).forEach(function (id) {
        var video = tiles[id].video;
        video.muted = value;
        if (!value && video.paused) video.play().catch(function () {});
      });
    }

    function clear() { update([]); }

    return { update: update, setMuted: setMuted, clear: clear };
  }

  // -- listening to the room -----------------------------------------------------------
  // options: liveId, invite, stageUrl, and handlers onFeeds(feeds), onYou(you),
  // onGuests(guests), onEnded(), onRefused(message). Returns the socket.
  function attach(options) {
    var socket = window.LiveLiteRoom
      ? window.LiveLiteRoom.connect(options.liveId, options.invite)
      : window.io("/live", { auth: { live_id: Number(options.liveId), invite: options.invite || null } });
    // What came over the socket is newer than the HTTP read started before it.
    var heard = { feeds: 0, you: 0, guests: 0 };
    function on(kind, handler) {
      return function (value) { heard[kind] += 1; if (handler) handler(value); };
    }
    var feeds = on("feeds", options.onFeeds);
    var you = on("you", options.onYou);
    var staff = on("guests", options.onGuests);
    socket.on("room_state", function (state) {
      feeds(state.feeds || []);
      if (state.you) you(state.you);
      staff(state.guests || []);
    });
    socket.on("feeds", function (data) { feeds(data.feeds || []); });
    socket.on("you", you);
    socket.on("guests", function (data) { staff(data.guests || []); });
    socket.on("live_ended", function () { if (options.onEnded) options.onEnded(); });
    socket.on("connect_error", function (err) {
      if (!socket.active && options.onRefused) options.onRefused(err && err.message);
    });
    if (options.stageUrl) {
      var before = { feeds: heard.feeds, you: heard.you, guests: heard.guests };
      fetch(options.stageUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (stage) {
          if (!stage) return;
          if (heard.feeds === before.feeds && options.onFeeds) options.onFeeds(stage.feeds || []);
          if (heard.you === before.you && options.onYou) options.onYou({ guest_status: stage.guest_status });
          if (heard.guests === before.guests && options.onGuests && stage.guests) options.onGuests(stage.guests);
        })
        .catch(function () {});
    }
    return socket;
  }

  window.LiveLiteStage = { grid: grid, attach: attach };

  // -- the watch page ------------------------------------------------------------------
  var root = document.querySelector("[data-stage-watch]");
  if (!root || !window.io) return;
  var d = root.dataset;
  var tilesBox = root.querySelector("[data-stage-grid]");
  var bar = root.querySelector("[data-stage-bar]");
  var requestButton = root.querySelector("[data-stage-request]");
  var cancelButton = root.querySelector("[data-stage-cancel]");
  var openLink = root.querySelector("[data-stage-open]");
  var note = root.querySelector("[data-stage-note]");
  var mainVideo = document.querySelector("[data-player] [data-video]");
  var status = null, ended = false, socket = null;

  var stage = grid(tilesBox, {
    waitingLabel: d.msgWaiting,
    onChange: function (count) { root.classList.toggle("has-guests", count > 0); },
  });
  // One sound button for the whole stage: the guests follow the host's player.
  if (mainVideo) {
    mainVideo.addEventListener("volumechange", function () { stage.setMuted(mainVideo.muted); });
  }

  function say(text) { if (note) note.textContent = text || ""; }

  function draw() {
    if (!bar) return;
    var signedIn = d.signedIn === "1";
    bar.hidden = ended || !signedIn;
    requestButton.hidden = status !== null;
    cancelButton.hidden = status !== "requested";
    openLink.hidden = !(status === "invited" || status === "active");
    if (status === "requested") say(d.msgRequested);
    else if (status === "invited") { say(d.msgInvited); openLink.textContent = d.labelOpenInvite; }
    else if (status === "active") { say(d.msgActive); openLink.textContent = d.labelOpenStage; }
    else say("");
  }

  function send(event, button) {
    if (!socket) return;
    button.disabled = true;
    socket.timeout(10000).emit(event, {}, function (err, reply) {
      button.disabled = false;
      if (err) { say(d.msgOffline); return; }
      if (!reply.ok) { say(reply.error); return; }
      status = reply.guest && ["invited", "requested", "active"].indexOf(reply.guest.status) >= 0 ? reply.guest.status : null;
      draw();
    });
  }

  if (d.isLive !== "1") return;
  socket = attach({
    liveId: d.liveId,
    invite: d.invite,
    stageUrl: d.stageUrl,
    onFeeds: function (feeds) { if (!ended) stage.update(feeds); },
    onYou: function (you) { status = you.guest_status || null; draw(); },
    onEnded: function () { ended = true; stage.clear(); draw(); },
    onRefused: function () { ended = true; stage.clear(); draw(); },
  });
  socket.on("kicked", function () { ended = true; stage.clear(); draw(); });
  if (requestButton) requestButton.addEventListener("click", function () { send("guest_request", requestButton); });
  if (cancelButton) cancelButton.addEventListener("click", function () { send("guest_cancel", cancelButton); });
  draw();
})();
