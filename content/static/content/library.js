/* The media library: drop files to upload them, open an item's preview to
   approve or reject it. A static file (the admin's Content-Security-Policy
   refuses inline scripts); without it the page still works with plain forms. */
(function () {
  "use strict";

  function setUpUpload() {
    var form = document.getElementById("library-upload");
    var zone = document.getElementById("library-dropzone");
    if (!form || !zone) return;
    var input = form.querySelector("input[type=file]");
    var selected = document.getElementById("library-selected");
    function show(files) {
      var names = Array.prototype.map.call(files, function (f) { return f.name; });
      selected.textContent = names.length ? names.length + " file(s): " + names.join(", ") : "";
    }
    input.addEventListener("change", function () { show(input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) return;
      input.files = files;
      show(files);
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  }

  function setUpPreview() {
    var dialog = document.getElementById("library-preview");
    var grid = document.getElementById("library-grid");
    if (!dialog || !grid) return;
    var media = dialog.querySelector(".library-preview-media");
    grid.addEventListener("click", function (event) {
      var button = event.target.closest(".library-open");
      if (!button) return;
      var tile = button.closest(".library-tile");
      var d = tile.dataset;
      dialog.querySelector("#library-preview-title").textContent = d.name + " (" + d.status + (d.nsfw ? ", NSFW" : "") + ")";
      dialog.querySelector(".library-preview-info").textContent = d.info;
      dialog.querySelector(".library-preview-reason").textContent = d.reason ? "Rejected: " + d.reason : "";
      dialog.querySelector(".library-details").href = d.change;
      media.textContent = "";
      var element;
      if (d.type === "image") {
        element = document.createElement("img");
        element.alt = d.name;
      } else if (d.type === "video") {
        element = document.createElement("video");
        element.controls = true;
        element.preload = "metadata";
      } else if (d.type === "audio") {
        element = document.createElement("audio");
        element.controls = true;
      } else {
        element = document.createElement("a");
        element.href = d.file;
        element.target = "_blank";
        element.rel = "noopener";
        element.textContent = "Open the text";
      }
      if (element.tagName !== "A") element.src = d.file;
      media.appendChild(element);
      dialog.querySelectorAll("input[name=content]").forEach(function (field) { field.value = d.id; });
      var approve = dialog.querySelector(".library-approve button");
      if (approve) approve.disabled = d.status === "approved";
      var reject = dialog.querySelector(".library-reject button");
      if (reject) reject.disabled = d.status === "rejected";
      dialog.showModal();
    });
    dialog.querySelector(".library-close").addEventListener("click", function () {
      media.textContent = "";
      dialog.close();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpUpload();
    setUpPreview();
  });
})();
