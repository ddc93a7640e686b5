// "Copy" buttons of the To post by hand page: data-copy names the id of the
// textarea whose text goes to the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  event.preventDefault();
  var source = document.getElementById(button.dataset.copy);
  if (!source) return;
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(source.value).then(done);
  } else {
    source.select();
    document.execCommand("copy");
    done();
  }
});
