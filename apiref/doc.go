// Package apiref serves an API's interactive reference: a page that draws
// the registry's OpenAPI document with Swagger UI, where a reader finds
// every method, its parameters, its answers and its permissions, and can
// call it with a token of their own.
//
// Swagger UI's prebuilt standalone bundle is embedded (its version is
// Version; its license and the sums of the vendored files are beside it in
// assets/swagger-ui), so the page loads nothing from another origin and
// needs no build step. The page is served under a strict Content Security
// Policy (ContentSecurityPolicy): no inline script or style, no eval.
// Only a host that imports this package carries the bundle (1.8 MB; it is
// sent gzipped, about a quarter of that).
//
//	mux.Handle("/api/openapi.json", reg.OpenAPIHandler())
//	mux.Handle("/docs/", apiref.New(apiref.Options{OpenAPI: "/api/openapi.json"}))
//
// The page calls the API from the reader's browser ("Try it out"), so the
// document's server (rpc.Options.BaseURL and Prefix) should be on the
// page's origin, as it is with BaseURL unset: the CSP lets the page
// connect to its own origin only.
package apiref
