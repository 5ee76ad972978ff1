// Behaviour that htmx attributes cannot express. No inline scripts anywhere: the CSP forbids them.
"use strict";

document.addEventListener("htmx:responseError", (event) => {
  // A failed htmx request shows its message where the content would have gone, never a blank area.
  const xhr = event.detail.xhr;
  if (xhr.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
  }
});
