// The dashboard's only script: htmx requests carry the session's form token.
// Everything else works without JavaScript: forms post, links navigate.
"use strict";

document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
