// lakeweb upload page: folder picking (tree kept), experiments, and the
// resumable chunked upload protocol (see catalog/views/upload.py).
//
// Files go in parallel (PARALLEL at a time); the chunks of one file go in
// order, so the server can hash each file as it streams. A dropped network
// or a restarted server is retried with back-off; a reloaded page offers to
// resume from the chunks the server already has.
(function () {
  "use strict";
  var PARALLEL = 4;   // files at a time
  var WINDOW = 1;     // chunks of one file at a time (see below)
  var MAX_TRIES = 30;
  // Small files go several to a request: per-request cost dominates them.
  var BATCH_FILE = 256 * 1024, BATCH_BYTES = 2000000, BATCH_COUNT = 200;
  var form = document.getElementById("upload-form");
  if (!form || !window.fetch) { return; }  // plain form post without fetch

  var input = form.querySelector("input[type=file][name=files]");
  var paths = form.querySelector("input[name=relative_paths]");
  var count = form.querySelector("input[name=experiments]");
  var summary = document.getElementById("file-summary");
  var errorBox = document.getElementById("upload-errors");
  var offer = document.getElementById("resume-offer");
  var progress = document.getElementById("upload-progress");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var submit = document.getElementById("upload-submit");
  var cancel = document.getElementById("upload-cancel");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var selected = [];   // [{file, path}]
  var resumable = null;  // status of an earlier upload of the same folder
  var running = null;    // {id, aborted, controllers}

  // ---- picking files ---------------------------------------------------
  function setSelection(list) {
    selected = list;
    paths.value = JSON.stringify(list.map(function (s) { return s.path; }));
    var bytes = list.reduce(function (sum, s) { return sum + s.file.size; }, 0);
    summary.textContent = list.length ? list.length + " files, " + human(bytes) : "";
    input.required = false;
    checkResume();
  }
  input.addEventListener("change", function () {
    setSelection(Array.prototype.map.call(input.files, function (f) {
      return { file: f, path: f.webkitRelativePath || f.name };
    }));
  });

  var drop = document.getElementById("drop-zone");
  drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("bg-light"); });
  drop.addEventListener("dragleave", function () { drop.classList.remove("bg-light"); });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    drop.classList.remove("bg-light");
    var entries = Array.prototype.map.call(e.dataTransfer.items, function (item) {
      return item.webkitGetAsEntry && item.webkitGetAsEntry();
    }).filter(Boolean);
    Promise.all(entries.map(walk)).then(function (lists) {
      setSelection([].concat.apply([], lists));
    });
  });
  function walk(entry) {
    if (entry.isFile) {
      return new Promise(function (resolve, reject) {
        entry.file(function (f) { resolve([{ file: f, path: entry.fullPath.replace(/^\//, "") }]); }, reject);
      });
    }
    return readAll(entry.createReader()).then(function (children) {
      return Promise.all(children.map(walk)).then(function (lists) { return [].concat.apply([], lists); });
    });
  }
  function readAll(reader) {  // readEntries returns at most ~100 entries a call
    return new Promise(function (resolve, reject) {
      var all = [];
      (function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) { resolve(all); return; }
          all = all.concat(Array.prototype.slice.call(batch));
          next();
        }, reject);
      })();
    });
  }

  // ---- experiments -------------------------------------------------------
  var experiments = document.getElementById("experiments");
  var template = document.getElementById("experiment-template");
  count.addEventListener("change", function () {
    var wanted = Math.max(1, Math.min(50, parseInt(count.value, 10) || 1));
    var sets = experiments.querySelectorAll("fieldset.experiment");
    for (var i = sets.length; i < wanted; i++) {
      var html = template.innerHTML.replace(/exp0-/g, "exp" + i + "-").replace(/__i__/g, String(i));
      experiments.insertAdjacentHTML("beforeend", html);
    }
    for (var j = sets.length - 1; j >= wanted; j--) { sets[j].remove(); }
    experiments.querySelectorAll(".experiment-number").forEach(function (el, k) { el.textContent = k + 1; });
  });

  // ---- resuming ------------------------------------------------------------
  function signature() {
    var parts = selected.map(function (s) { return s.path + ":" + s.file.size; }).sort();
    return "lakeweb-upload:" + form.dataset.formId + ":" + parts.join("|");
  }
  function uploadUrl(id) { return form.dataset.sessionUrl.replace("00000000-0000-0000-0000-000000000000", id); }
  function checkResume() {
    resumable = null;
    offer.classList.add("d-none");
    var id = selected.length && localStorage.getItem(signature());
    if (!id) { return; }
    fetch(uploadUrl(id), { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (status) {
      if (!status) { localStorage.removeItem(signature()); return; }
      resumable = status;
      var got = status.files.reduce(function (s, f) { return s + f.received; }, 0);
      var all = status.files.reduce(function (s, f) { return s + f.size; }, 0);
      offer.textContent = "An earlier upload of this folder stopped at " + human(got) + " of " +
        human(all) + ". Upload resumes it from there.";
      offer.classList.remove("d-none");
    });
  }

  // ---- the protocol --------------------------------------------------------
  form.addEventListener("submit", function (e) {
    if (!selected.length && !resumable) { return; }  // let the server say "no files"
    e.preventDefault();
    showErrors([]);
    submit.disabled = true;
    (resumable ? Promise.resolve(resumable) : start()).then(function (status) {
      if (status) { return run(status); }
    }).catch(function (err) { showErrors([String(err.message || err)]); })
      .then(function () { submit.disabled = false; });
  });

  function start() {
    var data = new FormData(form);
    data.delete("files");
    data.set("manifest", JSON.stringify(selected.map(function (s) { return { path: s.path, size: s.file.size }; })));
    return fetch(form.dataset.startUrl, {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrf },
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.status !== 201) { showErrors(body.errors || ["The upload was refused (" + r.status + ")."]); return null; }
        localStorage.setItem(signature(), body.upload);
        return body;
      });
    });
  }

  function run(status) {
    var byPath = {};
    selected.forEach(function (s) { byPath[s.path.normalize("NFC")] = s.file; });
    var todo = status.files.filter(function (f) { return !f.complete; });
    var total = status.files.reduce(function (s, f) { return s + f.size; }, 0);
    var state = { done: status.files.reduce(function (s, f) { return s + f.received; }, 0),
                  filesDone: status.files.length - todo.length, files: status.files.length,
                  total: total, samples: [] };
    running = { id: status.upload, aborted: false, controllers: [] };
    progress.classList.remove("d-none");
    cancel.classList.remove("d-none");
    report(state);
    var missing = todo.filter(function (f) { return !byPath[f.path]; });
    if (missing.length) { return Promise.reject(new Error("'" + missing[0].path + "' is not in the chosen folder.")); }
    var queue = plan(todo);
    function worker() {
      var next = queue.shift();
      if (!next || running.aborted) { return Promise.resolve(); }
      var sent = next.batch ? sendBatch(running, next.batch, byPath, state)
                            : sendFile(running, next.file, byPath[next.file.path], state);
      return sent.then(worker);
    }
    var workers = [];
    for (var i = 0; i < PARALLEL; i++) { workers.push(worker()); }
    return Promise.all(workers).then(function () {
      if (running.aborted) { return; }
      return retrying(function () {
        return fetch(uploadUrl(running.id) + "finish/", {
          method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
        });
      }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error((body.errors || ["Finishing the upload failed."]).join(" ")); }
          localStorage.removeItem(signature());
          window.location.href = body.url;
        });
      });
    });
  }

  function plan(todo) {
    var tasks = [], batch = [], bytes = 0;
    todo.forEach(function (f) {
      if (f.size > 0 && f.size <= BATCH_FILE && f.received === 0) {
        if (batch.length >= BATCH_COUNT || bytes + f.size > BATCH_BYTES) {
          tasks.push({ batch: batch }); batch = []; bytes = 0;
        }
        batch.push(f); bytes += f.size;
      } else {
        tasks.push({ file: f });
      }
    });
    if (batch.length) { tasks.push({ batch: batch }); }
    return tasks;
  }

  function sendBatch(run, entries, byPath, state) {
    // The body is the files one after another (a Blob of Files copies nothing);
    // the ids say in which order, and each file's size where it ends.
    var ids = entries.map(function (e) { return e.id; }).join(",");
    return retrying(function () {
      var body = new Blob(entries.map(function (e) { return byPath[e.path]; }));
      return fetch(uploadUrl(run.id) + "batch/?files=" + ids, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Content-Type": "application/octet-stream" },
      });
    }).then(function (r) {
      if (r.ok) {
        entries.forEach(function (e) { state.done += e.size; state.filesDone += 1; });
        report(state);
        return;
      }
      // Some already arrived (a resumed upload): send them one by one, which says where each stands.
      return entries.reduce(function (p, e) {
        return p.then(function () { return sendFile(run, e, byPath[e.path], state); });
      }, Promise.resolve());
    });
  }

  // A file's chunks go in order, WINDOW at a time: the server stores a chunk
  // as it arrives and hashes it when the one before is hashed, so the next
  // chunk travels while the previous one is being stored.
  function sendFile(run, entry, file, state) {
    var hashed = entry.received;   // bytes the server has hashed
    var next = entry.received;     // the next offset to send
    var counted = {};              // offsets already in the progress figures
    return new Promise(function (resolve, reject) {
      var inflight = 0, failed = false;
      function count(offset, end) {
        if (!counted[offset]) { counted[offset] = true; state.done += end - offset; report(state); }
      }
      function sent(offset, end, body, status) {
        inflight -= 1;
        if (status === 200 || body.received > offset) { count(offset, end); }
        hashed = Math.max(hashed, body.received);
        if (status === 409 && body.received <= offset) {
          // Not its turn yet (the chunk before is late): send it again.
          next = Math.min(next, offset);
        }
        if (hashed >= entry.size) {
          if (!inflight) { state.filesDone += 1; report(state); resolve(); }
          return;
        }
        pump();
      }
      function pump() {
        while (!failed && !run.aborted && inflight < WINDOW && next < entry.size) {
          var offset = next, end = Math.min(offset + entry.chunk_size, entry.size);
          next = end;
          inflight += 1;
          sendChunk(run, entry, file, offset, end).then(function (args) {
            sent(args[0], args[1], args[2], args[3]);
          }, function (err) { failed = true; reject(err); });
        }
        if (run.aborted && !inflight) { resolve(); }
      }
      if (entry.size === 0) {  // an empty file is one empty chunk
        inflight = 1;
        sendChunk(run, entry, file, 0, 0).then(function (args) {
          inflight = 0; hashed = entry.size; state.filesDone += 1; report(state); resolve();
        }, reject);
        return;
      }
      pump();
    });
  }

  function sendChunk(run, entry, file, offset, end) {
    return retrying(function () {
      var controller = new AbortController();
      run.controllers.push(controller);
      return fetch(uploadUrl(run.id) + "files/" + entry.id + "/?offset=" + offset, {
        method: "PUT", body: file.slice(offset, end), credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Content-Type": "application/octet-stream" },
        signal: controller.signal,
      });
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok && !(r.status === 409 && typeof body.received === "number")) {
          throw new Error((body.errors || ["A chunk was refused."]).join(" "));
        }
        return [offset, end, body, r.status];
      });
    });
  }

  // Network errors and 5xx (a server restart) are retried with back-off.
  function retrying(send) {
    var tries = 0;
    function attempt() {
      return send().then(function (r) {
        if (r.status >= 500 && tries < MAX_TRIES) { return wait(); }
        return r;
      }, function (err) {
        if ((running && running.aborted) || tries >= MAX_TRIES) { throw err; }
        return wait();
      });
    }
    function wait() {
      tries += 1;
      text.textContent = "Connection lost; retrying (" + tries + ")…";
      return new Promise(function (resolve) { setTimeout(resolve, Math.min(500 * Math.pow(1.6, tries), 15000)); })
        .then(attempt);
    }
    return attempt();
  }

  cancel.addEventListener("click", function () {
    if (!running) { return; }
    running.aborted = true;
    running.controllers.forEach(function (c) { c.abort(); });
    fetch(uploadUrl(running.id), { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf } })
      .then(function () {
        localStorage.removeItem(signature());
        text.textContent = "Upload cancelled; nothing was kept.";
        cancel.classList.add("d-none");
        resumable = null;
      });
  });

  // ---- feedback --------------------------------------------------------------
  function report(state) {
    var now = Date.now();
    state.samples.push([now, state.done]);
    while (state.samples.length > 2 && now - state.samples[0][0] > 5000) { state.samples.shift(); }
    var first = state.samples[0];
    var speed = now > first[0] ? (state.done - first[1]) * 1000 / (now - first[0]) : 0;
    var pct = state.total ? Math.floor(100 * state.done / state.total) : 100;
    bar.style.width = pct + "%";
    bar.textContent = pct + "%";
    var left = speed > 0 ? Math.ceil((state.total - state.done) / speed) : null;
    text.textContent = human(state.done) + " of " + human(state.total) + " · " + state.filesDone + " of " +
      state.files + " files · " + human(speed) + "/s" + (left !== null ? " · " + left + " s left" : "");
  }
  function showErrors(list) {
    var ul = errorBox.querySelector("ul");
    ul.innerHTML = "";
    list.forEach(function (msg) { var li = document.createElement("li"); li.textContent = msg; ul.appendChild(li); });
    errorBox.classList.toggle("d-none", !list.length);
  }
  function human(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : Math.round(n)) + " " + units[i];
  }
})();
