// A filter box for the long lists of codes on the dataset form (conditions, modalities, body parts,
// data-use conditions), progressively enhanced: without JavaScript the list is the plain multiple
// select or checkboxes it always was. Typing hides the options that do not contain every word typed
// (in their label or code); chosen options stay chosen, and are submitted, even while hidden.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-option-filter]").forEach((box, index) => {
    const select = box.querySelector("select");
    const items = select
      ? Array.from(select.options)
      : Array.from(box.querySelectorAll("input[type=checkbox]"), (input) => input.closest("div"));
    if (items.length < 2) return;
    const control = select || box.firstElementChild;
    const id = `option-filter-${index}`;
    const wrap = document.createElement("div");
    wrap.className = "option-filter-box";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = `Filter the list: ${box.dataset.optionFilter}`;
    const input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = "Type a name or code";
    if (control && control.id) input.setAttribute("aria-controls", control.id);
    const status = document.createElement("p");
    status.className = "help option-filter-status";
    status.id = `${id}-status`;
    status.setAttribute("role", "status");
    input.setAttribute("aria-describedby", status.id);
    wrap.append(label, input, status);
    box.before(wrap);

    const textOf = (item) => {
      const value = select ? item.value : item.querySelector("input").value;
      return `${item.textContent} ${value}`.toLowerCase();
    };
    const texts = new Map(items.map((item) => [item, textOf(item)]));
    const chosen = (item) => (select ? item.selected : item.querySelector("input").checked);
    const groups = select
      ? Array.from(select.querySelectorAll("optgroup"))
      : Array.from(new Set(items.map((item) => item.parentElement))).filter((group) => group !== control);

    const apply = () => {
      const words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const item of items) {
        const match = words.every((word) => texts.get(item).includes(word));
        item.hidden = !match;
        if (match) shown += 1;
      }
      for (const group of groups) {
        const members = select ? Array.from(group.children) : items.filter((item) => item.parentElement === group);
        group.hidden = members.every((item) => item.hidden);
      }
      const picked = items.filter(chosen).length;
      const showing = words.length ? `${shown} of ${items.length} shown` : `${items.length} to choose from`;
      status.textContent = `${showing}; ${picked} chosen.`;
    };
    input.addEventListener("input", apply);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault(); // Enter filters; it does not submit the form
      if (event.key === "Escape" && input.value) {
        input.value = "";
        apply();
      }
    });
    box.addEventListener("change", apply);
    apply();
  });
});
