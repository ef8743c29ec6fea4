// Small progressive enhancements. Everything works without this file.
(function () {
  "use strict";

  // After an htmx swap that replaced a list, move focus to its heading for screen readers.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.dataset && target.dataset.focusOnSwap) {
      var heading = target.querySelector("[data-focus-target]") || target;
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  });

  // A request that failed (4xx/5xx not meant to be swapped, or no connection) must not
  // fail silently: say so where the user is looking, and at the top of the page.
  function showError(event, text) {
    var box = document.getElementById("request-error");
    var target = event.detail && event.detail.target;
    if (target && target.classList && target.classList.contains("answer-status")) {
      target.textContent = "Not saved: " + text;
      target.classList.add("text-danger");
    }
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = (xhr && xhr.status < 500 && xhr.responseText && xhr.responseText.length < 300)
      ? xhr.responseText
      : "The server could not complete that request (" + (xhr ? xhr.status : "?") + "). Nothing was changed; please try again.";
    showError(event, text);
  });
  document.addEventListener("htmx:sendError", function (event) {
    showError(event, "The server could not be reached. Your last change was not saved; check your connection and try again.");
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var box = document.getElementById("request-error");
    if (box) { box.hidden = true; }
  });

  // A "none of these" checkbox and the choices beside it exclude each other. Runs in the
  // capture phase, before htmx posts the question on the same change event.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[type=checkbox]") || !box.checked) { return; }
    var group = box.closest("fieldset");
    if (!group || !group.querySelector("input[data-exclusive]")) { return; }
    group.querySelectorAll("input[type=checkbox][name='" + box.name + "']").forEach(function (other) {
      if (other !== box && (box.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive"))) {
        other.checked = false;
      }
    });
  }, true);

  // Auto-submit filter forms (the plain submit button stays for no-JS use).
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && event.target.matches("select, input[type=checkbox], input[type=date]")) {
      if (window.htmx) { window.htmx.trigger(form, "submit"); }
    }
  });
  // The app's own confirmation dialog: a "Revoke" link loads its question into
  // #confirm-dialog-body (htmx); open the dialog once it is there. "Keep it" closes it.
  // Without JavaScript the same link opens the question as a page.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "confirm-dialog-body") { return; }
    var dialog = target.closest("dialog");
    if (dialog && !dialog.open) { dialog.showModal(); }
    var first = target.querySelector("button, a");
    if (first) { first.focus(); }
  });
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("dialog [data-dialog-close]");
    if (close) {
      event.preventDefault();
      close.closest("dialog").close();
    }
  });

  // Copy buttons: copy the value of the field named by data-copy-target. They are
  // hidden in the page and shown here, since they need this script.
  document.querySelectorAll("[data-copy-target][hidden]").forEach(function (button) {
    button.hidden = false;
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field) { return; }
    function done(text) { if (status) { status.textContent = text; } }
    function fallback() {
      field.select();
      done(document.execCommand && document.execCommand("copy")
        ? "Copied." : "Select the token and copy it with Ctrl+C or ⌘+C.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { done("Copied."); }, fallback);
    } else {
      fallback();
    }
  });
})();
