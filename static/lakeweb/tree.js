// lakeweb dataset page: open and close folders of the file tree in place.
//
// Each folder row is a <details data-tree-src="…/tree/?dir=…">; the first
// time it opens, its children are fetched from that URL (an HTML fragment
// the server renders and escapes, see templates/catalog/_folder.html) and
// put inside it. Page links inside an opened folder load the next page in
// place too. Without this script every folder name and page link still
// works as a plain link to the page showing that folder (?dir=…).
(function () {
  "use strict";
  if (!window.fetch || !document.querySelector(".file-tree")) { return; }

  function load(box, url) {
    box.classList.add("tree-loading");
    box.setAttribute("aria-busy", "true");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;  // server-rendered, autoescaped fragment of our own origin
      })
      .catch(function () {
        var note = document.createElement("div");
        note.className = "text-danger small";
        note.textContent = "Could not load this folder; use the link to open it on its own page.";
        box.appendChild(note);
        throw new Error("not loaded");
      })
      .finally(function () {
        box.classList.remove("tree-loading");
        box.removeAttribute("aria-busy");
      });
  }

  function childrenOf(details) {
    return details.querySelector(":scope > .tree-children");
  }

  // "toggle" does not bubble, so listen while it goes down (capture).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) { return; }
    if (!details.dataset.treeSrc || details.dataset.treeState) { return; }
    details.dataset.treeState = "loading";
    load(childrenOf(details), details.dataset.treeSrc).then(
      function () { details.dataset.treeState = "loaded"; },
      function () { delete details.dataset.treeState; }  // try again on the next open
    );
  }, true);

  document.addEventListener("click", function (event) {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      return;  // new tab or window: let the link do that
    }
    var link = event.target.closest("a");
    if (!link) { return; }
    if (link.classList.contains("tree-open")) {
      // The folder name opens and closes the folder here instead of leaving the page.
      event.preventDefault();
      var details = link.closest("details");
      details.open = !details.open;
      return;
    }
    var box = link.closest(".tree-children");
    if (box && link.dataset.treeSrc) {
      event.preventDefault();
      load(box, link.dataset.treeSrc).catch(function () {});
    }
  });
})();
