// The "derived from" picker of the upload page: search ready datasets as you
// type (the JSON search API, the session's own login) and pick them; the ids
// go into the form's plain "derived_from" field, which the page shows as is
// without JavaScript. Picking a source moves the layer off raw (a derived
// dataset never goes there); removing the last one moves it back.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var picker = document.getElementById("derived-picker");
  if (!form || !picker) { return; }
  var ids = form.elements.namedItem("derived_from");
  var layer = form.elements.namedItem("layer");
  var search = document.getElementById("derived-search");
  var results = document.getElementById("derived-results");
  var chosenList = document.getElementById("derived-chosen");
  var chosen = [];  // {id, name, layer}
  var locked = false;
  var timer = null;
  var asked = 0;  // answers to older searches than the last are dropped

  var row = ids.closest(".mb-3") || ids.parentNode;
  row.classList.add("d-none");
  picker.classList.remove("d-none");

  function render() {
    chosenList.textContent = "";
    chosen.forEach(function (item) {
      var li = document.createElement("li");
      li.className = "derived-chosen-item d-flex align-items-center gap-2 mb-1";
      li.setAttribute("data-id", item.id);
      var name = document.createElement("span");
      name.textContent = item.name;
      var badge = document.createElement("span");
      badge.className = "badge text-bg-secondary";
      badge.textContent = item.layer;
      li.appendChild(name);
      li.appendChild(badge);
      if (!locked) {
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "btn btn-sm btn-outline-secondary";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + item.name);
        remove.addEventListener("click", function () { unpick(item.id); });
        li.appendChild(remove);
      }
      chosenList.appendChild(li);
    });
    ids.value = chosen.map(function (item) { return item.id; }).join(", ");
  }

  function pick(item) {
    if (chosen.some(function (c) { return c.id === item.id; })) { return; }
    chosen.push(item);
    if (layer && layer.value === "raw") { layer.value = "processed"; }
    render();
    results.textContent = "";
    search.value = "";
    search.focus();
  }

  function unpick(id) {
    chosen = chosen.filter(function (c) { return c.id !== id; });
    if (!chosen.length && layer && layer.value !== "raw") { layer.value = "raw"; }
    render();
  }

  function showResults(items) {
    results.textContent = "";
    if (!items.length) {
      var none = document.createElement("div");
      none.className = "list-group-item text-muted";
      none.textContent = "No ready dataset matches.";
      results.appendChild(none);
      return;
    }
    items.forEach(function (item) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "list-group-item list-group-item-action derived-result";
      button.setAttribute("data-id", item.id);
      var name = document.createElement("span");
      name.textContent = item.name + " ";
      var badge = document.createElement("span");
      badge.className = "badge text-bg-secondary";
      badge.textContent = item.layer;
      button.appendChild(name);
      button.appendChild(badge);
      button.addEventListener("click", function () {
        pick({ id: item.id, name: item.name, layer: item.layer });
      });
      results.appendChild(button);
    });
  }

  function find(text) {
    var mine = ++asked;
    var url = picker.getAttribute("data-search-url") + "?page_size=10&q=" + encodeURIComponent(text);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (page) { if (mine === asked) { showResults(page.results || []); } })
      .catch(function () {
        if (mine !== asked) { return; }
        results.textContent = "";
        var failed = document.createElement("div");
        failed.className = "list-group-item text-danger";
        failed.textContent = "The search did not answer; try again.";
        results.appendChild(failed);
      });
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    var text = search.value.trim();
    if (!text) { asked++; results.textContent = ""; return; }
    timer = setTimeout(function () { find(text); }, 250);
  });
  search.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); }  // Enter picks nothing and sends nothing
  });

  // A resumed upload shows the sources it began with, and they cannot change.
  form.addEventListener("lakeweb:draft", function (e) {
    locked = true;
    chosen = (e.detail.derived_from || []).map(function (s) {
      return { id: s.dataset, name: s.name, layer: s.layer };
    });
    search.disabled = true;
    results.textContent = "";
    render();
  });
  form.addEventListener("lakeweb:unlock", function () {
    locked = false;
    search.disabled = false;
    render();
  });
})();
