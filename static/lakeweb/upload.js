// Keeps the folder tree: browsers send only a file's base name in the form
// post, so the relative paths travel beside the files, in the same order.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = form.querySelector("input[type=file][name=files]");
  var paths = form.querySelector("input[name=relative_paths]");
  var summary = document.getElementById("file-summary");
  function update() {
    var files = Array.prototype.slice.call(input.files || []);
    paths.value = JSON.stringify(files.map(function (f) { return f.webkitRelativePath || f.name; }));
    var bytes = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    summary.textContent = files.length ? files.length + " files, " + bytes + " bytes" : "";
  }
  input.addEventListener("change", update);
  form.addEventListener("submit", update);
})();
