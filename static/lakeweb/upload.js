// lakeweb upload page: folder picking (tree kept), experiments, and the
// resumable chunked upload protocol (see catalog/views/upload.py).
//
// Files go in parallel (PARALLEL at a time); the chunks of one file go in
// order, so the server can hash each file as it streams. Only what can pass
// on a second try is tried again: no answer at all (the network) and 5xx (a
// server restarting, 503), with a bounded back-off. A 4xx is the server's
// answer about the request itself: the page stops the whole upload and shows
// the server's message. A reloaded page offers to resume from the chunks the
// server already has. Requests go through XMLHttpRequest, whose upload
// progress events move the bar as bytes leave, not as chunks finish.
(function () {
  "use strict";
  var PARALLEL = 4;   // files at a time
  var WINDOW = 1;     // chunks of one file at a time (see below)
  var MAX_TRIES = 30; // back-off of 0.8 s growing to 15 s: some seven minutes in all
  var MAX_CONFLICTS = 20;  // "not its turn yet" answers in a row before a file gives up
  // Small files go several to a request: per-request cost dominates them.
  var BATCH_FILE = 256 * 1024, BATCH_BYTES = 2000000, BATCH_COUNT = 200;
  var form = document.getElementById("upload-form");
  if (!form || !window.fetch || !window.XMLHttpRequest) { return; }  // plain form post

  var input = form.querySelector("input[type=file][name=files]");
  var paths = form.querySelector("input[name=relative_paths]");
  var count = form.querySelector("input[name=experiments]");
  var summary = document.getElementById("file-summary");
  var errorBox = document.getElementById("upload-errors");
  var errorTitle = document.getElementById("upload-errors-title");
  var offer = document.getElementById("resume-offer");
  var progress = document.getElementById("upload-progress");
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var submit = document.getElementById("upload-submit");
  var cancel = document.getElementById("upload-cancel");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var NOTHING_STORED = "Nothing was stored.";
  var STOPPED = "The upload stopped.";
  var selected = [];     // [{file, path}]
  var resumable = null;  // status of an earlier upload of the same folder
  var running = null;    // {id, stopped, cancelled, requests}

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
  function showExperiments() {
    var wanted = Math.max(1, Math.min(50, parseInt(count.value, 10) || 1));
    var sets = experiments.querySelectorAll("fieldset.experiment");
    for (var i = sets.length; i < wanted; i++) {
      var html = template.innerHTML.replace(/exp0-/g, "exp" + i + "-").replace(/__i__/g, String(i));
      experiments.insertAdjacentHTML("beforeend", html);
    }
    for (var j = sets.length - 1; j >= wanted; j--) { sets[j].remove(); }
    experiments.querySelectorAll(".experiment-number").forEach(function (el, k) { el.textContent = k + 1; });
  }
  count.addEventListener("change", showExperiments);

  // ---- resuming ------------------------------------------------------------
  function signature() {
    var parts = selected.map(function (s) { return s.path + ":" + s.file.size; }).sort();
    return "lakeweb-upload:" + form.dataset.formId + ":" + parts.join("|");
  }
  function uploadUrl(id) { return form.dataset.sessionUrl.replace("00000000-0000-0000-0000-000000000000", id); }
  function checkResume() {
    resumable = null;
    offer.classList.add("d-none");
    unlock();
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
        human(all) + ". Upload resumes it from there, with the details it began with (shown, " +
        "read-only: they cannot change now). To give other details, cancel that upload first.";
      offer.classList.remove("d-none");
      cancel.classList.remove("d-none");
      if (status.draft) { lock(status.draft); }
    }).catch(function () { /* no answer: no offer, the upload starts anew */ });
  }

  // A resumed upload goes on with the dataset its start created, which the
  // server validated with the details given then and will seal with them.
  // Applying what is typed now would need a second validation and a change
  // to a half-stored dataset; ignoring it would drop it silently. So the page
  // shows the original details and lets no one type over them: to change
  // them, cancel the upload (which unlocks the form) and start again.
  function lock(draft) {
    setField("name", draft.name);
    setField("description", draft.description);
    setField("source", draft.source);
    setField("external_id", draft.external_id);
    setField("tags", (draft.tags || []).join(", "));
    setField("layer", draft.layer || "raw");
    setField("derived_from", (draft.derived_from || []).map(function (s) { return s.dataset; }).join(", "));
    // The source picker (derive.js) shows the sources, read-only like the rest.
    form.dispatchEvent(new CustomEvent("lakeweb:draft", { detail: draft }));
    count.value = String(Math.max(1, draft.experiments.length));
    showExperiments();
    draft.experiments.forEach(function (values, i) {
      Object.keys(values).forEach(function (key) { setField("exp" + i + "-" + key, values[key]); });
    });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el === input || !el.name || el.type === "hidden" || el.disabled) { return; }
      el.disabled = true;
      el.setAttribute("data-locked", "");
    });
  }
  function unlock() {
    form.querySelectorAll("[data-locked]").forEach(function (el) {
      el.disabled = false;
      el.removeAttribute("data-locked");
    });
    form.dispatchEvent(new CustomEvent("lakeweb:unlock"));
  }
  function setField(name, value) {
    var field = form.elements.namedItem(name);
    if (!field) { return; }
    var list = field instanceof RadioNodeList ? Array.prototype.slice.call(field) : [field];
    var values = (Array.isArray(value) ? value : [value]).map(function (v) {
      return v === null || v === undefined ? "" : String(v);
    });
    list.forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = Array.isArray(value) ? values.indexOf(el.value) >= 0 : value === true;
      } else if (el.type === "datetime-local") {
        el.value = values[0].slice(0, 16);  // the stored ISO text without seconds and offset
      } else {
        el.value = values[0];
      }
    });
  }

  // ---- talking to the server -------------------------------------------------
  // One request. Resolves with {status, body, redirected} for any HTTP answer
  // (body: the JSON, or null); rejects with err.network when no answer came
  // and with err.aborted when the page stopped it.
  function send(method, url, body, options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var job = options.job;
      function done() {
        var at = job ? job.requests.indexOf(xhr) : -1;
        if (at >= 0) { job.requests.splice(at, 1); }
      }
      xhr.open(method, url);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");  // errors Django itself gives, too
      if (options.contentType) { xhr.setRequestHeader("Content-Type", options.contentType); }
      if (options.progress) {
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) { options.progress(e.loaded, e.total); }
        });
      }
      xhr.onload = function () {
        done();
        // Sent elsewhere: the login page, when the session has ended meanwhile.
        var redirected = !!xhr.responseURL && xhr.responseURL !== new URL(url, location.href).href;
        resolve({ status: xhr.status, body: redirected ? null : parsed(xhr), redirected: redirected });
      };
      xhr.onerror = xhr.ontimeout = function () { done(); reject(failure("network")); };
      xhr.onabort = function () { done(); reject(failure("aborted")); };
      if (job) { job.requests.push(xhr); }
      xhr.send(body);
    });
  }
  function parsed(xhr) {
    if ((xhr.getResponseHeader("Content-Type") || "").indexOf("json") < 0) { return null; }
    try { return JSON.parse(xhr.responseText); } catch (e) { return null; }
  }
  function failure(kind) {
    var err = new Error(kind === "network" ? "The server could not be reached." : "Stopped.");
    err[kind] = true;
    return err;
  }
  // The server's own messages for a refused request, or what its status says.
  function refusal(response, what) {
    var body = response.body || {};
    var list = response.redirected ? ["You are no longer logged in (the session ended). Log in " +
      "again in another tab, then choose the folder here again to resume the upload."]
      : Array.isArray(body.errors) && body.errors.length ? body.errors.map(String) : [
      response.status >= 500 ? what + " failed on the server (HTTP " + response.status + "); try again later."
        : response.status === 413 ? what + " was too large for the server (HTTP 413)."
        : what + " was refused (HTTP " + response.status + ")."];
    var err = new Error(list.join(" "));
    err.messages = list;
    return err;
  }

  // Network errors and 5xx (a server restart, 503) are tried again, with
  // back-off, MAX_TRIES times; any other answer goes back to the caller.
  function retrying(job, attempt) {
    var tries = 0;
    function go() {
      if (job.stopped) { return Promise.reject(failure("aborted")); }
      return attempt().then(function (response) {
        if (response.status < 500) { return response; }
        if (tries >= MAX_TRIES) { throw refusal(response, "The upload"); }
        return later("The server did not answer (HTTP " + response.status + ")");
      }, function (err) {
        if (err.aborted || job.stopped) { throw err; }
        if (tries >= MAX_TRIES) {
          throw new Error("The server could not be reached " + MAX_TRIES + " times in a row; " +
            "the upload stopped. Choose the folder again later to resume it.");
        }
        return later("Connection lost");
      });
    }
    function later(why) {
      tries += 1;
      text.textContent = why + "; retrying (" + tries + ")…";
      return new Promise(function (resolve) { setTimeout(resolve, Math.min(500 * Math.pow(1.6, tries), 15000)); })
        .then(go);
    }
    return go();
  }
  function halt(job) {
    job.stopped = true;
    job.requests.slice().forEach(function (xhr) { xhr.abort(); });
  }

  // ---- the protocol --------------------------------------------------------
  form.addEventListener("submit", function (e) {
    if (!selected.length && !resumable) { return; }  // let the server say "no files"
    e.preventDefault();
    showErrors([]);
    submit.disabled = true;
    running = null;
    (resumable ? Promise.resolve(resumable) : start()).then(function (status) {
      if (status) { return run(status); }
    }).catch(function (err) {
      if (err.aborted) { return; }  // cancelled: the cancel says so
      showErrors(err.messages || [String(err.message || err)], running ? STOPPED : NOTHING_STORED);
      if (running) {
        text.textContent = "Upload stopped.";
        checkResume();  // what arrived is kept: offer to resume it, or cancel it
      }
    }).then(function () { submit.disabled = false; });
  });

  function start() {
    var data = new FormData(form);
    data.delete("files");
    data.set("manifest", JSON.stringify(selected.map(function (s) { return { path: s.path, size: s.file.size }; })));
    // Not retried: a start whose answer was lost may have opened an upload already.
    return send("POST", form.dataset.startUrl, data).then(function (response) {
      if (response.status !== 201 || !response.body) { throw refusal(response, "The upload"); }
      localStorage.setItem(signature(), response.body.upload);
      return response.body;
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
    var job = running = { id: status.upload, stopped: false, cancelled: false, requests: [] };
    progress.classList.remove("d-none");
    cancel.classList.remove("d-none");
    report(state);
    var missing = todo.filter(function (f) { return !byPath[f.path]; });
    if (missing.length) { return Promise.reject(new Error("'" + missing[0].path + "' is not in the chosen folder.")); }
    var queue = plan(todo);
    function worker() {
      var next = queue.shift();
      if (!next || job.stopped) { return Promise.resolve(); }
      var sent = next.batch ? sendBatch(job, next.batch, byPath, state)
                            : sendFile(job, next.file, byPath[next.file.path], state);
      return sent.then(worker);
    }
    var workers = [];
    for (var i = 0; i < PARALLEL; i++) { workers.push(worker()); }
    return Promise.all(workers).then(function () {
      if (job.stopped) { throw failure("aborted"); }
      return retrying(job, function () {
        return send("POST", uploadUrl(job.id) + "finish/", null, { job: job });
      }).then(function (response) {
        if (response.status !== 200 || !response.body) { throw refusal(response, "Finishing the upload"); }
        localStorage.removeItem(signature());
        window.location.href = response.body.url;
      });
    }).catch(function (err) { halt(job); throw err; });  // the first problem stops every file
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

  // The bytes of one request in the progress figures as they leave. When the
  // answer comes they are kept (the server has them) or taken back (a retry
  // sends them again).
  function meter(state, size) {
    var shown = 0;
    function move(to) { state.done += to - shown; shown = to; report(state); }
    return {
      progress: function (loaded, total) {
        var now = Math.min(size, Math.floor(size * loaded / total));
        if (now > shown) { move(now); }
      },
      keep: function () { move(size); },
      drop: function () { if (shown) { move(0); } },
    };
  }

  function sendBatch(job, entries, byPath, state) {
    // The body is the files one after another (a Blob of Files copies nothing);
    // the ids say in which order, and each file's size where it ends.
    var ids = entries.map(function (e) { return e.id; }).join(",");
    var bytes = entries.reduce(function (s, e) { return s + e.size; }, 0);
    return retrying(job, function () {
      var body = new Blob(entries.map(function (e) { return byPath[e.path]; }));
      var counted = meter(state, bytes);
      return send("POST", uploadUrl(job.id) + "batch/?files=" + ids, body, {
        job: job, contentType: "application/octet-stream", progress: counted.progress,
      }).then(function (response) {
        if (response.status === 200 && response.body) { counted.keep(); } else { counted.drop(); }
        return response;
      }, function (err) { counted.drop(); throw err; });
    }).then(function (response) {
      if (response.status === 200 && response.body) {
        state.filesDone += entries.length;
        report(state);
        return;
      }
      if (response.status === 409 && response.body && typeof response.body.received === "number") {
        // Some had arrived already (a resumed upload): one by one, each says where it stands.
        return entries.reduce(function (p, e) {
          return p.then(function () { return sendFile(job, e, byPath[e.path], state); });
        }, Promise.resolve());
      }
      throw refusal(response, "A batch of " + entries.length + " small files");
    });
  }

  // A file's chunks go in order, WINDOW at a time: the server stores a chunk
  // as it arrives and hashes it when the one before is hashed, so the next
  // chunk travels while the previous one is being stored.
  function sendFile(job, entry, file, state) {
    var hashed = entry.received;   // bytes the server has hashed
    var next = entry.received;     // the next offset to send
    var counted = {};              // offsets whose bytes the progress figures keep
    var conflicts = 0;
    return new Promise(function (resolve, reject) {
      var inflight = 0, failed = false;
      function sent(offset, response) {
        inflight -= 1;
        var body = response.body;
        hashed = Math.max(hashed, body.received);
        if (response.status === 409 && body.received <= offset) {
          // Not its turn yet (the chunk before is late): send it again, a bounded number of times.
          conflicts += 1;
          if (conflicts > MAX_CONFLICTS) { failed = true; reject(refusal(response, "'" + entry.path + "'")); return; }
          next = Math.min(next, offset);
        } else {
          conflicts = 0;
        }
        if (hashed >= entry.size) {
          if (!inflight) { state.filesDone += 1; report(state); resolve(); }
          return;
        }
        pump();
      }
      function pump() {
        while (!failed && !job.stopped && inflight < WINDOW && next < entry.size) {
          var offset = next, end = Math.min(offset + entry.chunk_size, entry.size);
          next = end;
          inflight += 1;
          sendChunk(job, entry, file, offset, end, state, counted).then(function (args) {
            sent(args[0], args[1]);
          }, function (err) { failed = true; reject(err); });
        }
        if (job.stopped && !inflight) { resolve(); }
      }
      if (entry.size === 0) {  // an empty file is one empty chunk
        inflight = 1;
        sendChunk(job, entry, file, 0, 0, state, counted).then(function () {
          inflight = 0; hashed = entry.size; state.filesDone += 1; report(state); resolve();
        }, reject);
        return;
      }
      pump();
    });
  }

  function sendChunk(job, entry, file, offset, end, state, counted) {
    var url = uploadUrl(job.id) + "files/" + entry.id + "/?offset=" + offset;
    return retrying(job, function () {
      var shown = meter(state, end - offset);
      return send("PUT", url, file.slice(offset, end), {
        job: job, contentType: "application/octet-stream", progress: shown.progress,
      }).then(function (response) {
        var body = response.body || {};
        // Kept once, when the server has the chunk: a 200, or a 409 saying it is past it.
        var arrived = response.status === 200 || (response.status === 409 && body.received > offset);
        if (arrived && !counted[offset]) { counted[offset] = true; shown.keep(); } else { shown.drop(); }
        return response;
      }, function (err) { shown.drop(); throw err; });
    }).then(function (response) {
      var body = response.body || {};
      if ((response.status !== 200 && response.status !== 409) || typeof body.received !== "number") {
        throw refusal(response, "A chunk of '" + entry.path + "'");
      }
      return [offset, response];
    });
  }

  cancel.addEventListener("click", function () {
    var id = running ? running.id : resumable && resumable.upload;
    if (!id) { return; }
    if (running) { running.cancelled = true; halt(running); }
    fetch(uploadUrl(id), { method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf } })
      .then(function (r) {
        // 409: the upload was closed already (finished, or cleaned away).
        if (!r.ok && r.status !== 409) { throw new Error("HTTP " + r.status); }
        localStorage.removeItem(signature());
        progress.classList.remove("d-none");
        text.textContent = "Upload cancelled; nothing was kept.";
        cancel.classList.add("d-none");
        offer.classList.add("d-none");
        showErrors([]);
        resumable = null;
        running = null;
        unlock();
      }).catch(function (err) {
        showErrors(["Cancelling the upload failed (" + err.message + "); try again."], STOPPED);
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
  function showErrors(list, title) {
    var ul = errorBox.querySelector("ul");
    ul.innerHTML = "";
    list.forEach(function (msg) { var li = document.createElement("li"); li.textContent = msg; ul.appendChild(li); });
    errorTitle.textContent = title || NOTHING_STORED;
    errorBox.classList.toggle("d-none", !list.length);
  }

  // Sizes in binary IEC units: the twin of size_iec (lakeweb/templatetags/sizes.py),
  // which must give the same text. Halves round up, exactly: dividing by a
  // power of two loses nothing in a double.
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function tenths(size, power) {
    var scale = Math.pow(1024, power);
    return Math.floor((size * 20 + scale) / (2 * scale));
  }
  function human(n) {
    var sign = n < 0 ? "-" : "", size = Math.floor(Math.abs(n)) || 0;
    if (size < 1024) { return sign + size + "\u00a0B"; }
    var power = 1;
    while (power < UNITS.length - 1 && size >= Math.pow(1024, power + 1)) { power += 1; }
    var t = tenths(size, power);
    if (t >= 10240 && power < UNITS.length - 1) { power += 1; t = tenths(size, power); }
    return sign + Math.floor(t / 10) + "." + (t % 10) + "\u00a0" + UNITS[power];
  }
})();
