// Review queue: "select all on this page" for bulk assignment. Without this file the
// row checkboxes still work one by one; the select-all box only appears when it can work.
(function () {
  "use strict";

  function setUp(root) {
    var box = root.querySelector("[data-select-all]");
    if (!box || box.dataset.ready) { return; }
    box.dataset.ready = "1";
    var label = root.querySelector("[data-select-all-label]");
    if (label) { label.classList.remove("d-none"); }
    var name = box.dataset.selectAll;
    function rows() {
      return root.querySelectorAll("input[type=checkbox][name='" + name + "']");
    }
    box.addEventListener("change", function () {
      rows().forEach(function (input) { input.checked = box.checked; });
    });
    root.addEventListener("change", function (event) {
      if (event.target.name !== name) { return; }
      var all = rows();
      var ticked = Array.prototype.filter.call(all, function (i) { return i.checked; }).length;
      box.checked = ticked === all.length && all.length > 0;
      box.indeterminate = ticked > 0 && ticked < all.length;
    });
  }

  function init() {
    var results = document.getElementById("queue-results");
    if (results) { setUp(results); }
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
