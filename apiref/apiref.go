package apiref

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/authrpc/authrpc/internal/static"
)

//go:embed assets
var assets embed.FS

// Version is the version of Swagger UI the page is drawn with.
const Version = "5.36.0"

// ContentSecurityPolicy is sent with every response of the page: scripts,
// styles, fonts and requests from its own origin only (the images Swagger
// UI draws its icons with are data: URLs), no inline script or style, no
// eval.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configure the page. The zero value draws /api/openapi.json.
type Options struct {
	// OpenAPI is the path (or same-origin URL) of the OpenAPI document,
	// such as where rpc.Registry.OpenAPIHandler is mounted. Default
	// "/api/openapi.json".
	OpenAPI string
	// Title is the page's title. Default "API reference".
	Title string
}

// Handler serves the reference page and its assets. It answers GET and
// HEAD only.
type Handler struct {
	site *static.Handler
}

// New returns the page's handler. It serves the assets by their base name
// under whatever path it is mounted at, and the page itself for every other
// path, so it needs no http.StripPrefix.
func New(opts Options) *Handler {
	if opts.OpenAPI == "" {
		opts.OpenAPI = "/api/openapi.json"
	}
	if opts.Title == "" {
		opts.Title = "API reference"
	}
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	site, err := static.New(static.Options{Files: files, Data: opts, Names: served, CSP: ContentSecurityPolicy, Gzip: true})
	if err != nil {
		panic(err) // the template and Options are fixed; tests execute it
	}
	return &Handler{site: site}
}

// served maps the names the page asks for to the embedded files.
var served = map[string]string{
	"swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
	"swagger-ui.css":       "swagger-ui/swagger-ui.css",
	"init.js":              "init.js",
	"page.css":             "page.css",
	"favicon.svg":          "favicon.svg",
}

// ServeHTTP serves the page or one of its assets, gzipped when the client
// takes it (the bundle is 1.8 MB, about a quarter of that gzipped).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.site.ServeHTTP(w, r) }
