// OAuth 2.0 Form Post Response Mode: submit the response form as soon as the page loads.
// A static file, so that the page's CSP can keep script-src 'self' (no inline script).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form[data-auto-submit]");
  if (form) { form.submit(); }
});
