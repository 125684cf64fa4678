// apppass-web: the Copy button of the new app password page. The page works without it
// (the password is shown as text); this only shows the button and copies on click.
"use strict";
(function () {
  var button = document.getElementById("copy");
  var secret = document.getElementById("new-password");
  var status = document.getElementById("copy-status");
  if (!button || !secret || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(secret.textContent.trim()).then(function () {
      if (status) status.textContent = button.getAttribute("data-copied") || "";
    }, function () {
      var range = document.createRange();
      range.selectNodeContents(secret);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    });
  });
})();
