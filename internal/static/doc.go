// Package static serves a page and its assets embedded in the binary, as
// the API reference (apiref) and the admin console (console) do: the page
// is index.html, a html/template executed once, served at every path
// without an extension; each asset is served by its base name, so the
// handler needs no http.StripPrefix. Every response carries the page's
// Content-Security-Policy and headers that forbid sniffing, framing and
// referrers; the page and its assets are revalidated on every load, as
// they change only with the binary. Only GET and HEAD are answered.
package static
