// The upload form: checks the size before sending, sends the form with a progress
// bar (XMLHttpRequest reports upload progress; fetch does not), shows the server's
// field errors in place, then opens the video page, which follows the conversion.
// Without JavaScript the form posts normally and the server answers the same way.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload-form]");
  if (!form) return;
  var input = form.querySelector("[data-file-input]");
  var submit = form.querySelector("[data-upload-submit]");
  var box = form.querySelector("[data-upload-progress]");
  var bar = form.querySelector("[data-upload-bar]");
  var status = form.querySelector("[data-upload-status]");
  var generalError = form.querySelector("[data-upload-error]");
  var caption = form.querySelector("textarea[data-count-max]");
  var counter = form.querySelector("[data-caption-count]");

  function megabytes(bytes) {
    return form.dataset.mbLabel.replace("{n}", Math.round(bytes / 1048576));
  }

  function clearErrors() {
    form.querySelectorAll(".field .errors").forEach(function (list) {
      list.textContent = "";
      var field = list.closest(".field");
      if (field) field.classList.remove("has-error");
    });
    generalError.textContent = "";
  }

  function showErrors(errors, message) {
    var placed = false;
    Object.keys(errors || {}).forEach(function (name) {
      var list = document.getElementById(name + "-err");
      if (!list) return;
      placed = true;
      list.closest(".field").classList.add("has-error");
      (errors[name] || []).forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
    });
    if (!placed) generalError.textContent = message || form.dataset.msgFailed;
    var first = form.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (first) first.focus();
  }

  function busy(on) {
    submit.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  if (caption && counter) {
    var updateCount = function () {
      counter.textContent = counter.dataset.label
        .replace("{n}", caption.value.length).replace("{max}", caption.dataset.countMax);
    };
    caption.addEventListener("input", updateCount);
    updateCount();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var file = input.files && input.files[0];
    if (!file) {
      showErrors({ file: [form.dataset.msgChoose] });
      return;
    }
    var isPhoto = /^image\//.test(file.type);
    var limit = Number(isPhoto ? form.dataset.maxPhotoBytes : form.dataset.maxVideoBytes);
    if (file.size > limit) {
      showErrors({ file: [form.dataset.msgTooLarge.replace("{max}", megabytes(limit))] });
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.floor((e.loaded / e.total) * 100);
      bar.value = percent;
      status.textContent = form.dataset.msgUploading.replace("{n}", percent);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = form.dataset.msgProcessing;
    });
    xhr.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
      if (xhr.status === 201 && data.url) {
        window.location.assign(data.url);
        return;
      }
      busy(false);
      box.hidden = true;
      showErrors(data.errors, data.message);
    });
    xhr.addEventListener("error", function () {
      busy(false);
      box.hidden = true;
      showErrors({}, form.dataset.msgFailed);
    });
    busy(true);
    box.hidden = false;
    bar.value = 0;
    status.textContent = form.dataset.msgUploading.replace("{n}", 0);
    xhr.send(new FormData(form));
  });
})();
