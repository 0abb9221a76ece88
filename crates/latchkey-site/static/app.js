// Progressive enhancement: submit the forms with fetch and show errors in place. Without
// this script the same forms post normally and the server re-renders the page.
"use strict";

for (const form of document.querySelectorAll("form[data-enhance]")) {
  const error = form.querySelector(".error");
  const button = form.querySelector("button");
  let pending = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (pending) return;
    // aria-disabled rather than disabled: disabling the focused button would drop focus to
    // the page, and a keyboard user would have to find their place again after an error.
    pending = true;
    button.setAttribute("aria-disabled", "true");
    // Emptied now and filled when the answer comes, so that the same message twice in a row
    // is still a change for screen readers to announce.
    if (error) error.textContent = "";
    const fields = Object.fromEntries(new FormData(form));
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(fields),
        redirect: "manual",
        credentials: "same-origin",
      });
      if (response.type === "opaqueredirect" || response.ok) {
        const target = form.dataset.next || "/";
        window.location.assign(target);
        return;
      }
      const body = await response.json().catch(() => ({}));
      show(body.error || "Something went wrong, try again");
    } catch {
      show("Could not reach the server, try again");
    }
  });

  // The message goes into a role="alert" element, so screen readers announce it.
  function show(message) {
    if (error) error.textContent = message;
    pending = false;
    button.removeAttribute("aria-disabled");
  }
}

// Chromium keeps even `Cache-Control: no-store` pages in its back/forward cache, so after
// signing out the back button could show the profile as it was. A page restored from that
// cache asks the server again instead.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) window.location.reload();
});
