/* For You: infinite scroll. The "More" link works without JavaScript (it loads the
   next page); with it, the next items are fetched as HTML and appended in place when
   the link comes near the screen, and a "livelite:content" event lets other scripts
   (inline video playback) pick up the new items. */
(function () {
  "use strict";
  var feed = document.getElementById("feed");
  if (!feed) return;
  var busy = false;

  function moreLink() {
    return feed.querySelector(".feed-more a[data-fragment]");
  }

  function load(link) {
    if (busy) return;
    busy = true;
    var item = link.parentNode;
    var label = link.textContent;
    link.textContent = feed.dataset.loading;
    link.setAttribute("aria-busy", "true");
    fetch(link.dataset.fragment, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("ol");
        holder.innerHTML = html;
        var added = Array.prototype.slice.call(holder.children);
        item.remove();
        added.forEach(function (child) { feed.appendChild(child); });
        document.dispatchEvent(new CustomEvent("livelite:content", { detail: { root: feed } }));
        busy = false;
        watch();
      })
      .catch(function () {
        link.textContent = label;
        link.removeAttribute("aria-busy");
        var status = item.querySelector(".feed-error") || document.createElement("span");
        status.className = "feed-error danger-text";
        status.setAttribute("role", "status");
        status.textContent = feed.dataset.failed;
        item.appendChild(status);
        busy = false;
      });
  }

  var observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            observer.unobserve(entry.target);
            load(entry.target);
          }
        });
      }, { rootMargin: "600px 0px" })
    : null;

  function watch() {
    var link = moreLink();
    if (!link) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      load(link);
    });
    if (observer) observer.observe(link);
  }

  watch();
})();
