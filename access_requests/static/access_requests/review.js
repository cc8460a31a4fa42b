// The committee review page: conflict, check and vote forms (marked data-committee-form) post
// without leaving the page. The server answers with the HTML of the sections the post changed
// (the same templates the full page includes); each replaces the section with the same id. Focus
// moves to the section's status message (or its heading), and the result is read out through the
// page's polite live region. Without this script the forms post normally and redirect back.
(function () {
  "use strict";

  var live = document.getElementById("committee-live");

  function announce(text) {
    if (!live) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function sectionOf(form) {
    return form.closest("section[id]");
  }

  function showProblem(form, text) {
    var section = sectionOf(form) || form.parentNode;
    var old = section.querySelector(".form-errors[data-stale]");
    if (old) { old.remove(); }
    var box = document.createElement("div");
    box.className = "form-errors";
    box.setAttribute("role", "alert");
    box.setAttribute("data-stale", "");
    box.setAttribute("tabindex", "-1");
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    form.parentNode.insertBefore(box, form);
    box.focus();
    announce(text);
  }

  function replaceSections(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var first = null;
    Array.prototype.forEach.call(template.content.children, function (fresh) {
      if (!fresh.id) { return; }
      var current = document.getElementById(fresh.id);
      if (!current) { return; }
      current.replaceWith(fresh);
      bind(fresh);
      if (!first) { first = fresh; }
    });
    return first;
  }

  function focusResult(section) {
    if (!section) { return; }
    var target = section.querySelector(".section-status") ||
      section.querySelector(".form-errors") ||
      section.querySelector(".field-invalid input, .field-invalid textarea") ||
      section.querySelector("h2, h3");
    if (target) {
      if (!target.hasAttribute("tabindex") && !/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
        target.setAttribute("tabindex", "-1");
      }
      target.focus();
    }
    var status = section.querySelector(".section-status");
    var errors = section.querySelector(".form-errors");
    if (status) {
      announce(status.textContent.trim());
    } else if (errors) {
      announce(errors.textContent.trim());
    }
  }

  function submit(event) {
    var form = event.currentTarget;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var body = new FormData(form);
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: {
        "X-Requested-With": "fetch",
        "X-CSRFToken": token ? token.value : ""
      }
    }).then(function (response) {
      return response.text().then(function (text) {
        if (response.status === 200 || response.status === 400) {
          focusResult(replaceSections(text));
        } else if (response.status === 409) {
          showProblem(form, text);
        } else {
          showProblem(form, "This could not be saved (" + response.status + "). Reload the page and try again.");
        }
      });
    }).catch(function () {
      showProblem(form, "The portal could not be reached. Check your connection and try again.");
    }).finally(function () {
      if (button && document.body.contains(button)) { button.disabled = false; }
    });
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-committee-form]"), function (form) {
      form.addEventListener("submit", submit);
    });
  }

  bind(document);
}());
