// Logging out also stops this browser's push notifications for the account: before the
// account menu's logout form is sent, its hidden push_endpoint field gets this
// browser's push endpoint (the server removes that subscription if it is the person's)
// and the browser drops its subscription. Without JavaScript, without push support or
// without a service worker the form is sent as it is; a browser API that does not
// answer never holds the logout up for more than a moment.
(function () {
  "use strict";
  var form = document.querySelector("form[data-push-logout]");
  if (!form || !window.isSecureContext || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  var field = form.querySelector("[data-push-endpoint]");
  var MAX_WAIT_MS = 3000;
  var sending = false;
  // A page shown again from the back/forward cache must be able to log out again.
  window.addEventListener("pageshow", function () { sending = false; });

  form.addEventListener("submit", function (event) {
    if (sending) {
      event.preventDefault();
      return;
    }
    sending = true;
    event.preventDefault();
    var sent = false;
    function send() {
      if (sent) return;
      sent = true;
      form.submit();  // no submit event: this handler does not run again
    }
    window.setTimeout(send, MAX_WAIT_MS);
    // getRegistration() only looks: it never starts a worker on a page that had none.
    navigator.serviceWorker.getRegistration()
      .then(function (registration) {
        return registration ? registration.pushManager.getSubscription() : null;
      })
      .then(function (subscription) {
        if (!subscription) return null;
        if (field) field.value = subscription.endpoint;
        return subscription.unsubscribe();
      })
      .catch(function () { /* the server-side removal still goes with the form */ })
      .then(send);
  });
})();
