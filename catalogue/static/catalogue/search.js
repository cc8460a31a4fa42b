// Catalogue search, progressively enhanced: a filter or the sort order applies as soon as it changes,
// and on a narrow screen the filters start folded so the results come first. Without JavaScript
// the "Apply filters" button does the same.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.search-form");
  if (!form) return;
  form.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox], select")) form.requestSubmit();
  });
  const filters = form.querySelector("details.filters");
  if (filters && window.matchMedia("(max-width: 899px)").matches) filters.open = false;
  form.classList.add("applies-on-change");
});
