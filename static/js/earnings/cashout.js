// The cash-out form: what the diamonds typed are worth, as you type. The rate, the
// currency, the language and the sentences come from data-* attributes of the form
// (templates/earnings/cashouts.html); the server computes the real amount the same way
// (diamonds × cents per 100 diamonds ÷ 100, rounded down).
(function () {
  "use strict";
  var form = document.querySelector("[data-cashout-form]");
  if (!form) return;
  var input = form.querySelector("[data-cashout-diamonds]");
  var preview = form.querySelector("[data-cashout-preview]");
  if (!input || !preview) return;

  var rate = parseInt(form.dataset.rate, 10) || 0;
  var minimum = parseInt(form.dataset.minimum, 10) || 0;
  var available = parseInt(form.dataset.available, 10) || 0;
  var formatter;
  try {
    formatter = new Intl.NumberFormat(form.dataset.locale || undefined, {
      style: "currency",
      currency: form.dataset.currency || "EUR",
    });
  } catch (error) {
    formatter = null;
  }

  function money(cents) {
    var value = cents / 100;
    return formatter ? formatter.format(value) : value.toFixed(2) + " " + (form.dataset.currency || "");
  }

  function update() {
    var text = input.value.trim();
    if (!/^\d+$/.test(text)) {
      preview.textContent = "";
      return;
    }
    var diamonds = parseInt(text, 10);
    var sentence = form.dataset.textWorth.replace("{money}", money(Math.floor((diamonds * rate) / 100)));
    if (diamonds < minimum) sentence += " " + form.dataset.textBelow;
    else if (diamonds > available) sentence += " " + form.dataset.textAbove;
    preview.textContent = sentence;
  }

  input.addEventListener("input", update);
  update();
})();
