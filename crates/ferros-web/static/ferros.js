// Ferros's only script: confirmations of the buttons that act, a file read
// into the request upload form, the refresh of the pages that ask for it, and
// the live values (data-live="KEY") from the server's events (/events).
"use strict";
document.addEventListener("submit", (e) => {
  const f = e.target;
  const q = f.getAttribute("data-confirm");
  if (q && !window.confirm(q)) e.preventDefault();
});
document.addEventListener("change", (e) => {
  const input = e.target;
  if (!input.matches || !input.matches("input[type=file][data-into]")) return;
  const target = document.getElementById(input.getAttribute("data-into"));
  const file = input.files && input.files[0];
  if (!target || !file) return;
  file.text().then((t) => { target.value = t; });
});
document.addEventListener("DOMContentLoaded", () => {
  const every = document.body.getAttribute("data-refresh");
  if (every) setTimeout(() => window.location.reload(), Number(every) * 1000);
});

document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelectorAll("[data-live]");
  if (live.length === 0 || !window.EventSource) return;
  const events = new EventSource("/events");
  events.addEventListener("status", (e) => {
    const v = JSON.parse(e.data);
    live.forEach((el) => {
      const value = v[el.getAttribute("data-live")];
      if (typeof value === "string" && el.textContent !== value) el.textContent = value;
    });
  });
});
