// Front-Channel Logout 1.0 §3: once every client's logout iframe has loaded (or after
// a few seconds, whichever comes first), continue to the post_logout_redirect_uri.
// Without JavaScript the page shows a "Continue" link instead.
(function () {
  "use strict";
  var page = document.getElementById("signed-out");
  var target = page && page.getAttribute("data-continue");
  if (!target) { return; }
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.logout-frame"));
  var waiting = frames.length;
  var done = false;
  function go() {
    if (!done) { done = true; window.location.assign(target); }
  }
  frames.forEach(function (frame) {
    frame.addEventListener("load", function () {
      waiting -= 1;
      if (waiting <= 0) { go(); }
    });
  });
  if (waiting === 0) { go(); }
  window.setTimeout(go, 3000);
}());
