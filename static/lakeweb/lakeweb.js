// lakeweb, every page: behaviour the templates ask for with data- attributes,
// since the Content-Security-Policy allows no inline handlers (onsubmit=…).
//
// <form data-confirm="Delete this dataset?"> asks before it is sent.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) { return; }
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
})();
