// The agreement page while its document is being prepared: ask every few seconds whether it is
// ready, and reload the page once it is. Without this script the page says to reload it.
(function () {
  "use strict";

  var notice = document.getElementById("agreement-preparing");
  if (!notice || !window.fetch) { return; }
  var url = notice.getAttribute("data-status-url");
  var tries = 0;

  function check() {
    tries += 1;
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.rendered) {
          window.location.reload();
        } else if (tries < 60) {
          window.setTimeout(check, 3000);
        }
      })
      .catch(function () {
        if (tries < 60) { window.setTimeout(check, 5000); }
      });
  }

  window.setTimeout(check, 2000);
}());
