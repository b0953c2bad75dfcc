// The browser publisher. Sources: camera, screen, or screen with the camera in a
// corner (composited on a canvas). MediaRecorder makes one-second WebM chunks with a
// keyframe every second (MEDIA.md); they go to the server as numbered Socket.IO
// binary events, one at a time, each acknowledged. After a network drop the
// socket reconnects and the unacknowledged chunks are sent again, so the same live
// goes on without a gap. No inline script (CSP): strings come from data-* attributes.
//
// The same publisher serves a guest on stage (studio/guest.html): with data-guest-live
// on the root it publishes a feed of that live, with no title, no live to create and
// no End button (the guest page leaves the stage). Other scripts may stop it with a
// "livelite:stop" event ({detail: {code, message}}) on the root, and hear
// "livelite:live" ({detail: {liveId}}) when it starts sending.
(function () {
  "use strict";
  var root = document.querySelector("[data-studio]");
  var form = root && root.querySelector("[data-studio-form]");
  if (!form) return;
  var d = root.dataset;
  var $ = function (sel) { return root.querySelector(sel); };
  var preview = $("[data-preview]");
  var previewMessage = $("[data-preview-message]");
  var statusLine = $("[data-status]");
  var cameraSelect = $("[data-camera]");
  var micSelect = $("[data-mic]");
  var goButton = $("[data-go-live]");
  var endButton = $("[data-end-live]");
  var watchLink = $("[data-watch-link]");
  var csrf = document.querySelector("meta[name=csrf-token]").content;

  var camStream = null, screenStream = null, micStream = null, output = null;
  var compositorTimer = null, audioContext = null;
  var recorder = null, socket = null, liveId = null, feedId = null, recorderId = null;
  var mime = null, seq = 0, queue = [], sending = false, live = false, stopped = false;
  var startedAt = null, timerHandle = null, inviteToken = d.activeInvite || null;
  var inviteCode = d.activeCode || null;
  var groupField = $("[data-group-field]");
  var guestLive = d.guestLive ? Number(d.guestLive) : null;

  function say(text) { statusLine.textContent = text || ""; }
  function source() { return form.querySelector("input[name=source]:checked").value; }

  function pickMime() {
    if (!window.MediaRecorder) return null;
    var candidates = ["video/webm;codecs=h264,opus", "video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus"];
    for (var i = 0; i < candidates.length; i++) {
      if (MediaRecorder.isTypeSupported(candidates[i])) return candidates[i];
    }
    return null;
  }

  function stopTracks(stream) { if (stream) stream.getTracks().forEach(function (t) { t.stop(); }); }

  async function openCamera() {
    stopTracks(camStream); stopTracks(micStream);
    var video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    if (cameraSelect.value) video.deviceId = { exact: cameraSelect.value };
    var audio = micSelect.value ? { deviceId: { exact: micSelect.value } } : true;
    var both = await navigator.mediaDevices.getUserMedia({ video: video, audio: audio });
    camStream = new MediaStream(both.getVideoTracks());
    micStream = new MediaStream(both.getAudioTracks());
  }

  async function listDevices() {
    var devices = await navigator.mediaDevices.enumerateDevices();
    fill(cameraSelect, devices.filter(function (x) { return x.kind === "videoinput"; }), d.labelCamera);
    fill(micSelect, devices.filter(function (x) { return x.kind === "audioinput"; }), d.labelMic);
  }

  function fill(select, devices, pattern) {
    var current = select.value;
    select.innerHTML = "";
    devices.forEach(function (device, index) {
      var option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || pattern.replace("{n}", index + 1);
      select.appendChild(option);
    });
    if (current) select.value = current;
  }

  function mixAudio(streams) {
    var tracks = [];
    streams.forEach(function (s) { if (s) tracks = tracks.concat(s.getAudioTracks()); });
    if (tracks.length <= 1) return tracks;
    audioContext = audioContext || new AudioContext();
    var destination = audioContext.createMediaStreamDestination();
    tracks.forEach(function (track) {
      audioContext.createMediaStreamSource(new MediaStream([track])).connect(destination);
    });
    return destination.stream.getAudioTracks();
  }

  function composite(screenVideoTrack, cameraVideoTrack) {
    var canvas = document.createElement("canvas");
    canvas.width = 1280; canvas.height = 720;
    var ctx = canvas.getContext("2d");
    var screenEl = document.createElement("video");
    var camEl = document.createElement("video");
    [screenEl, camEl].forEach(function (el) { el.muted = true; el.playsInline = true; });
    screenEl.srcObject = new MediaStream([screenVideoTrack]);
    camEl.srcObject = new MediaStream([cameraVideoTrack]);
    screenEl.play(); camEl.play();
    clearInterval(compositorTimer);
    // A timer, not requestAnimationFrame: rAF stops when the tab is hidden, which is
    // exactly when someone presents another window.
    compositorTimer = setInterval(function () {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 1280, 720);
      if (screenEl.videoWidth) {
        var s = Math.min(1280 / screenEl.videoWidth, 720 / screenEl.videoHeight);
        var w = screenEl.videoWidth * s, h = screenEl.videoHeight * s;
        ctx.drawImage(screenEl, (1280 - w) / 2, (720 - h) / 2, w, h);
      }
      if (camEl.videoWidth) {
        var cw = 320, ch = cw * camEl.videoHeight / camEl.videoWidth, x = 1280 - cw - 24, y = 720 - ch - 24;
        ctx.save();
        ctx.beginPath();
        if (ctx.roundRect) ctx.roundRect(x, y, cw, ch, 16); else ctx.rect(x, y, cw, ch);
        ctx.clip();
        ctx.drawImage(camEl, x, y, cw, ch);
        ctx.restore();
      }
    }, 1000 / 30);
    return canvas.captureStream(30).getVideoTracks()[0];
  }

  async function buildOutput() {
    clearInterval(compositorTimer);
    var kind = source();
    await openCamera();
    stopTracks(screenStream); screenStream = null;
    var videoTrack;
    if (kind === "camera") {
      videoTrack = camStream.getVideoTracks()[0];
    } else {
      try {
        screenStream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: true });
      } catch (err) {
        say(d.msgNoScreen);
        form.querySelector("input[value=camera]").checked = true;
        return buildOutput();
      }
      var screenTrack = screenStream.getVideoTracks()[0];
      videoTrack = kind === "both" ? composite(screenTrack, camStream.getVideoTracks()[0]) : screenTrack;
    }
    output = new MediaStream([videoTrack].concat(mixAudio([micStream, screenStream])));
    preview.srcObject = output;
    previewMessage.textContent = "";
  }

  async function refreshPreview() {
    try {
      await buildOutput();
      await listDevices();
    } catch (err) {
      previewMessage.textContent = d.msgNoCamera;
      say(d.msgNoCamera);
    }
  }

  // -- talking to the server ------------------------------------------------------
  function api(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = (data && data.error) || {};
          var fields = error.errors ? Object.values(error.errors).flat().join(" ") : "";
          throw new Error(fields || error.message || response.statusText);
        }
        return data;
      });
    });
  }

  function connect() {
    // With several processes, nginx routes this path to the one that runs ingest
    // (docs/deploy.md); otherwise it is the usual /socket.io.
    socket = window.io("/publish", { path: d.publishPath || "/socket.io", reconnectionDelayMax: 3000 });
    socket.on("connect", function () {
      socket.emit("publish_start", { live_id: liveId, mime: mime, recorder_id: recorderId }, function (reply) {
        if (!reply || !reply.ok) { stop(reply && reply.code, (reply && reply.error) || d.msgStoppedUnknown); return; }
        var wasReconnect = feedId !== null;
        feedId = reply.feed_id;
        queue = queue.filter(function (item) { return item.seq > reply.last_seq; });
        sending = false;
        say(wasReconnect ? d.msgReconnected : d.msgLive);
        pump();
      });
    });
    socket.on("disconnect", function () { if (live) say(d.msgReconnecting); });
  }

  function pump() {
    if (sending || !socket || !socket.connected || feedId === null || !queue.length) return;
    sending = true;
    var item = queue[0];
    item.blob.arrayBuffer().then(function (buffer) {
      socket.timeout(20000).emit("publish_chunk", { feed_id: feedId, seq: item.seq, data: buffer }, function (err, reply) {
        sending = false;
        if (err) return; // timed out: the chunk is sent again after the reconnect
        if (reply.ok || reply.last_seq != null) {
          queue = queue.filter(function (q) { return q.seq > reply.last_seq; });
          if (reply.health) showHealth(reply.health);
          if (reply.viewers != null) showViewers(reply.viewers);
        }
        if (!reply.ok && reply.fatal) { stop(reply.code, reply.error); return; }
        if (!reply.ok && reply.last_seq == null) { say(reply.error); return; }
        pump();
      });
    });
  }

  function startRecorder() {
    recorderId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    seq = 0;
    recorder = new MediaRecorder(output, {
      mimeType: mime,
      videoBitsPerSecond: 2500000,
      audioBitsPerSecond: 128000,
      videoKeyFrameIntervalDuration: 1000,
    });
    recorder.ondataavailable = function (event) {
      if (event.data && event.data.size) {
        queue.push({ seq: ++seq, blob: event.data });
        pump();
      }
    };
    recorder.start(1000);
  }

  function showHealth(health) {
    var box = $("[data-health]");
    box.hidden = false;
    var lang = document.documentElement.lang || "en";
    var whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    var tenth = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var unit = function (pattern, text) { return pattern.replace("{n}", text); };
    var fmt = {
      input_bitrate_kbps: function (v) { return unit(d.fmtKbps, whole.format(v)); },
      output_fps: function (v) { return v ? unit(d.fmtFps, whole.format(v)) : "–"; },
      keyframe_interval_s: function (v) { return v == null ? "–" : unit(d.fmtSeconds, tenth.format(v)); },
      lag_seconds: function (v) { return v == null ? "–" : unit(d.fmtSeconds, tenth.format(v)); },
    };
    Object.keys(fmt).forEach(function (key) {
      var el = box.querySelector('[data-h="' + key + '"]');
      if (el && key in health) el.textContent = fmt[key](health[key]);
    });
    var dot = $("[data-health-dot]");
    var lag = health.lag_seconds || 0;
    dot.className = "health-dot " + (lag < 4 ? "good" : lag < 10 ? "fair" : "poor");
  }

  function showViewers(count) {
    $("[data-viewer-count]").textContent = count;
    $("[data-viewers]").hidden = false;
  }

  function tick() {
    var seconds = Math.floor((Date.now() - startedAt) / 1000);
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    $("[data-timer]").textContent = (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  }

  function setLive(on) {
    live = on;
    $("[data-live-badge]").hidden = !on;
    $("[data-timer]").hidden = !on;
    goButton.hidden = on;
    if (endButton) endButton.hidden = !on;
    form.querySelectorAll("input, select").forEach(function (el) { el.disabled = on; });
    if (on) {
      startedAt = startedAt || Date.now();
      tick();
      timerHandle = setInterval(tick, 1000);
    } else {
      clearInterval(timerHandle);
    }
  }

  // code: why the live ended ("host" when the host ended it); message: already
  // translated by the server.
  function stop(code, message) {
    if (stopped) return;
    stopped = true;
    if (recorder && recorder.state !== "inactive") recorder.stop();
    if (socket) socket.disconnect();
    setLive(false);
    goButton.hidden = true;
    say(!code || code === "host" ? (message || d.msgEnded) : message);
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var title = guestLive ? "" : form.title.value.trim();
    if (!guestLive && !title) { say(d.msgTitle); form.title.focus(); return; }
    mime = pickMime();
    if (!mime) { say(d.msgNoRecorder); return; }
    if (!output) await refreshPreview();
    if (!output) return;
    goButton.disabled = true;
    say(d.msgStarting);
    try {
      if (guestLive) {
        liveId = guestLive;
      } else if (d.activeLive) {
        liveId = Number(d.activeLive);
      } else {
        var body = { title: title, visibility: form.visibility.value };
        if (body.visibility === "invite" && form.group_id && form.group_id.value) body.group_id = Number(form.group_id.value);
        var created = await api(d.apiLives, body);
        liveId = created.id;
        inviteToken = created.visibility === "invite" ? created.invite_token : null;
        inviteCode = created.visibility === "invite" ? created.invite_code : null;
        if (created.started_at) startedAt = Date.parse(created.started_at);
      }
    } catch (err) {
      say(err.message);
      goButton.disabled = false;
      return;
    }
    if (watchLink) {
      watchLink.href = d.watchUrl.replace(/0$/, String(liveId)) + (inviteToken ? "?invite=" + encodeURIComponent(inviteToken) : "");
      watchLink.hidden = false;
      showInvitation(watchLink.href);
    }
    showAttendance(liveId);
    root.dataset.liveId = liveId;
    startRecorder();
    connect();
    setLive(true);
    root.dispatchEvent(new CustomEvent("livelite:live", { detail: { liveId: liveId } }));
  });

  root.addEventListener("livelite:stop", function (event) {
    var detail = event.detail || {};
    stop(detail.code, detail.message);
  });

  if (endButton) endButton.addEventListener("click", function () {
    if (!window.confirm(d.msgConfirmEnd)) return;
    say(d.msgEnding);
    endButton.disabled = true;
    recorder.onstop = function () {
      // Give the last chunks a moment to reach the server before closing the live.
      var deadline = Date.now() + 10000;
      (function wait() {
        if (queue.length && Date.now() < deadline) { setTimeout(wait, 200); return; }
        api(d.apiLives + "/" + liveId + "/end").catch(function () {}).then(function () { stop("host", d.msgEnded); });
      })();
    };
    recorder.stop();
  });

  // Invite-only: the link and the short code (typed at /join), with copy buttons.
  function showInvitation(href) {
    var box = $("[data-invite-box]");
    if (!box) return;
    box.hidden = !inviteToken;
    if (!inviteToken) return;
    $("[data-invite-link]").value = new URL(href, window.location.href).href;
    $("[data-invite-code]").value = inviteCode || "";
    $("[data-invite-code]").closest(".field").hidden = !inviteCode;
  }

  // Who came (services/classes.py), during the live and after it.
  function showAttendance(id) {
    var attendance = $("[data-attendance-link]");
    if (!attendance || !d.attendanceUrl || !id) return;
    attendance.href = d.attendanceUrl.replace(/\/0\//, "/" + id + "/");
    attendance.hidden = false;
  }

  // A group can only be let into an invite-only live.
  function syncGroupField() {
    if (groupField && form.visibility) groupField.hidden = form.visibility.value !== "invite";
  }
  if (form.visibility) form.visibility.addEventListener("change", syncGroupField);
  syncGroupField();
  // Back in the studio during an invite-only live: the invitation is at hand at once.
  if (d.activeLive && inviteToken) {
    showInvitation(d.watchUrl.replace(/0$/, d.activeLive) + "?invite=" + encodeURIComponent(inviteToken));
  }
  if (d.activeLive && !guestLive) showAttendance(d.activeLive);

  cameraSelect.addEventListener("change", function () { if (!live) refreshPreview(); });
  micSelect.addEventListener("change", function () { if (!live) refreshPreview(); });
  form.querySelectorAll("input[name=source]").forEach(function (radio) {
    radio.addEventListener("change", function () { if (!live) refreshPreview(); });
  });

  if (!pickMime()) { say(d.msgNoRecorder); goButton.disabled = true; return; }
  refreshPreview();
})();
