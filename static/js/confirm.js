/* Forms with data-confirm="question" ask before they submit (an inline onsubmit would break the
   Content-Security-Policy). Without JavaScript the form submits straight away. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
