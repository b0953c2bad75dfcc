// LiveLite page behaviour shared by every page. No inline scripts (CSP): everything
// hooks onto data-* attributes.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The language picker submits as soon as it changes (the button stays for no-JS).
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Forms that destroy something ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // Copy buttons: data-copy="#selector".
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.dataset.copy);
      if (!target) return;
      // A password input cannot be copied from; show it for the moment of the copy.
      var hidden = target.type === "password";
      if (hidden) target.type = "text";
      target.select();
      var done = function () {
        var label = button.textContent;
        button.textContent = button.dataset.copied || label;
        setTimeout(function () { button.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
      if (hidden) target.type = "password";
    });
  });

  // Show/hide a secret input: data-reveal="#selector".
  document.querySelectorAll("[data-reveal]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.dataset.reveal);
      if (!target) return;
      var show = target.type === "password";
      target.type = show ? "text" : "password";
      button.textContent = show ? button.dataset.labelHide : button.dataset.labelShow;
      button.setAttribute("aria-pressed", String(show));
    });
  });

  // On phones the settings tabs scroll sideways: show the current one, and bring a tab
  // that gets keyboard focus fully into view (browsers leave a half-hidden one as it is).
  document.querySelectorAll(".side-nav").forEach(function (nav) {
    nav.addEventListener("focusin", function (event) {
      event.target.scrollIntoView({ block: "nearest", inline: "nearest" });
    });
    var current = nav.querySelector('[aria-current="page"]');
    if (!current || nav.scrollWidth <= nav.clientWidth) return;
    var navBox = nav.getBoundingClientRect(), box = current.getBoundingClientRect();
    nav.scrollLeft += box.left + box.width / 2 - (navBox.left + navBox.width / 2);
  });

  // Close the account menu with Escape or a click elsewhere.
  document.querySelectorAll("details.menu").forEach(function (menu) {
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { menu.open = false; menu.querySelector("summary").focus(); }
    });
  });
})();
