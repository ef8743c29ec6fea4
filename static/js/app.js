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
  // Auto-submit filter forms (the plain submit button stays for no-JS use).
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && event.target.matches("select, input[type=checkbox], input[type=date]")) {
      if (window.htmx) { window.htmx.trigger(form, "submit"); }
    }
  });
})();
