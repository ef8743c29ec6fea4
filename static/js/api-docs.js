// Swagger UI for /api/v1/docs: settings come from data attributes (no inline script).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var csrf = root.getAttribute("data-csrf-token");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    // No deep links: Swagger UI puts them inside each operation's toggle button, a
    // link nested in a button that keyboards and screen readers cannot use.
    deepLinking: false,
    // Requests made from the page use the session: send the CSRF token as forms do.
    requestInterceptor: function (request) {
      if (csrf) {
        request.headers["X-CSRFToken"] = csrf;
      }
      return request;
    },
  });
})();
