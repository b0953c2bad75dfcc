// LiveLite's service worker, served at /sw.js so that its scope is the whole site.
// It only shows pushed notifications and opens their page when one is clicked: no
// caching, no fetch handler. The payload is JSON {title, body, url, tag} (services.push),
// already in the reader's language.
"use strict";

var ICON = "/static/img/icon-192.png";
var BADGE = "/static/img/badge-96.png";

self.addEventListener("install", function () {
  // A new version replaces the old one at once: there is no cache to keep consistent.
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function readPayload(data) {
  if (!data) return {};
  try {
    return data.json();
  } catch (error) {
    return { body: data.text() };
  }
}

self.addEventListener("push", function (event) {
  var message = readPayload(event.data);
  var url = new URL(message.url || "/notifications", self.location.origin);
  // Only our own pages: a payload cannot send the reader elsewhere.
  if (url.origin !== self.location.origin) url = new URL("/notifications", self.location.origin);
  var options = {
    body: message.body || "",
    icon: ICON,
    badge: BADGE,
    data: { url: url.href }
  };
  if (message.tag) options.tag = message.tag;
  // Chrome requires a notification for every push (userVisibleOnly), so one is always shown.
  event.waitUntil(self.registration.showNotification(message.title || "LiveLite", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = (event.notification.data && event.notification.data.url) || new URL("/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i += 1) {
        if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
      }
      return self.clients.openWindow(target);
    })
  );
});
