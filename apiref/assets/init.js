// Starts Swagger UI on the document the page names in its meta tag. A file
// of its own, not an inline script, so that the page's CSP needs no
// 'unsafe-inline'.
"use strict";
(function () {
  const url = document.querySelector('meta[name="authrpc-openapi"]').content;
  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#reference",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // No badge from the public validator: nothing leaves this origin.
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
    docExpansion: "list",
    defaultModelsExpandDepth: -1,
  });
})();
