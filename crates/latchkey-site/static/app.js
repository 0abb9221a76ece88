// Progressive enhancement: submit the forms with fetch and show errors in place. Without
// this script the same forms post normally and the server re-renders the page.
"use strict";

for (const form of document.querySelectorAll("form[data-enhance]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".error");
    const button = form.querySelector("button");
    const fields = Object.fromEntries(new FormData(form));
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(fields),
        redirect: "manual",
        credentials: "same-origin",
      });
      if (response.type === "opaqueredirect" || response.ok) {
        const target = form.action.endsWith("/api/logout") ? "/login" : "/";
        window.location.assign(target);
        return;
      }
      const body = await response.json().catch(() => ({}));
      if (error) error.textContent = body.error || "Something went wrong, try again";
    } catch {
      if (error) error.textContent = "Could not reach the server, try again";
    } finally {
      button.disabled = false;
    }
  });
}
