// Settings → Notifications: turn Web Push on or off for this browser, and say truthfully
// where it stands (supported? allowed? subscribed here and known to the server?).
// Strings come from data-msg-* attributes (translated by the template); no inline script.
(function () {
  "use strict";
  var root = document.querySelector("[data-push]");
  if (!root) return;
  var data = root.dataset;
  var toggle = root.querySelector("[data-push-toggle]");
  var status = root.querySelector("[data-push-status]");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var registration = null;
  var busy = false;

  function say(text, tone) {
    status.textContent = text;
    status.dataset.tone = tone || "";
  }

  function show(on, usable) {
    toggle.setAttribute("aria-checked", on ? "true" : "false");
    toggle.disabled = !usable;
  }

  function describe(error) {
    return (error && (error.message || error.name)) || String(error);
  }

  // A message already shown to the person: the chain stops without saying more.
  function stop(pattern) {
    return function (error) {
      if (error && error.shown) throw error;
      say(pattern.replace("{error}", describe(error)), "problem");
      var shown = new Error(describe(error));
      shown.shown = true;
      throw shown;
    };
  }

  // A browser whose push service cannot be reached may never settle subscribe(); a
  // subscription that arrives later is picked up by the next try (getSubscription).
  function withTimeout(promise) {
    return new Promise(function (resolve, reject) {
      var timer = window.setTimeout(function () {
        say(data.msgSubscribeTimeout, "problem");
        var shown = new Error(data.msgSubscribeTimeout);
        shown.shown = true;
        reject(shown);
      }, Number(data.subscribeTimeoutMs) || 20000);
      promise.then(
        function (value) { window.clearTimeout(timer); resolve(value); },
        function (error) { window.clearTimeout(timer); reject(error); }
      );
    });
  }

  function keyBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var raw = window.atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  // A subscription made with another server key (the instance was set up again) can
  // only be replaced, not reused.
  function madeWithOurKey(subscription) {
    var key = subscription.options && subscription.options.applicationServerKey;
    if (!key) return true;
    var ours = keyBytes(data.publicKey);
    var theirs = new Uint8Array(key);
    if (ours.length !== theirs.length) return false;
    for (var i = 0; i < ours.length; i += 1) if (ours[i] !== theirs[i]) return false;
    return true;
  }

  function listed() {
    return document.querySelectorAll("[data-push-browsers] [data-endpoint]");
  }

  function knownToServer(endpoint) {
    return Array.prototype.some.call(listed(), function (item) { return item.dataset.endpoint === endpoint; });
  }

  function markThisBrowser(endpoint) {
    listed().forEach(function (item) {
      var badge = item.querySelector("[data-this-browser]");
      if (badge) badge.hidden = item.dataset.endpoint !== endpoint;
    });
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/json", Accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      if (response.ok) return response.status === 204 ? null : response.json();
      return response.json().catch(function () { return null; }).then(function (json) {
        var error = new Error(json && json.error ? json.error.message : response.status + " " + response.statusText);
        error.status = response.status;
        throw error;
      });
    });
  }

  // The list of browsers is rendered by the server; fetch this page again and take it.
  function refreshList() {
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-push-browsers]");
        var current = document.querySelector("[data-push-browsers]");
        if (fresh && current) current.innerHTML = fresh.innerHTML;
      });
  }

  function check() {
    return registration.pushManager.getSubscription().then(function (subscription) {
      var endpoint = subscription ? subscription.endpoint : null;
      markThisBrowser(endpoint);
      if (Notification.permission === "denied") {
        show(false, false);
        say(data.msgDenied, "problem");
        return;
      }
      var on = Boolean(endpoint) && Notification.permission === "granted" && knownToServer(endpoint);
      show(on, true);
      say(on ? data.msgOn : data.msgOff, on ? "on" : "");
    });
  }

  function turnOn() {
    return Promise.resolve(Notification.requestPermission()).then(function (permission) {
      if (permission === "denied") {
        show(false, false);
        say(data.msgDenied, "problem");
        return null;
      }
      if (permission !== "granted") {
        show(false, true);
        say(data.msgDismissed, "problem");
        return null;
      }
      return registration.pushManager.getSubscription()
        .then(function (existing) {
          if (existing && !madeWithOurKey(existing)) return existing.unsubscribe().then(function () { return null; });
          return existing;
        })
        .then(function (existing) {
          return existing || withTimeout(registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(data.publicKey)
          }));
        })
        .catch(stop(data.msgSubscribeFailed))
        .then(function (subscription) {
          return api("POST", data.apiUrl, subscription.toJSON()).catch(stop(data.msgSaveFailed));
        })
        .then(refreshList)
        .then(check);
    });
  }

  function turnOff() {
    return registration.pushManager.getSubscription()
      .then(function (subscription) {
        if (!subscription) return null;
        var url = data.apiUrl + "?endpoint=" + encodeURIComponent(subscription.endpoint);
        return api("DELETE", url)
          .catch(function (error) { if (error.status !== 404) throw error; })  // already gone there
          .then(function () { return subscription.unsubscribe(); });
      })
      .catch(stop(data.msgOffFailed))
      .then(refreshList)
      .then(check);
  }

  toggle.addEventListener("click", function () {
    if (busy || !registration) return;
    busy = true;
    var wantOn = toggle.getAttribute("aria-checked") !== "true";
    toggle.disabled = true;
    say(data.msgWorking);
    (wantOn ? turnOn() : turnOff())
      .catch(function (error) {
        if (!error.shown) say((wantOn ? data.msgSaveFailed : data.msgOffFailed).replace("{error}", describe(error)), "problem");
        show(!wantOn, true);
      })
      .then(function () { busy = false; });
  });

  if (!window.isSecureContext) {
    say(data.msgInsecure, "problem");
    return;
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say(data.msgUnsupported, "problem");
    return;
  }
  say(data.msgChecking);
  navigator.serviceWorker.register(data.swUrl, { scope: "/" })
    .then(function () { return navigator.serviceWorker.ready; })
    .then(function (ready) {
      registration = ready;
      return check();
    })
    .catch(function (error) { say(data.msgSwFailed.replace("{error}", describe(error)), "problem"); });
})();
