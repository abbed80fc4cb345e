package console

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/authrpc/authrpc/internal/static"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every response of the console. The
// socket needs ws: and wss: because 'self' does not match them in every
// browser.
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configures the console. The zero value serves a console that calls
// the API at /api/.
type Options struct {
	// API is the path (or same-origin URL) the registry is mounted at, with
	// a trailing slash. Default "/api/".
	API string
	// Title is shown in the page's title and header. Default "authrpc admin".
	Title string
	// AdminPermission is the permission that shows the Users, Settings,
	// Call log and Audit trail pages: give the one the users, settings,
	// calllog and audit modules require (users.Options.AdminPermission,
	// settings.Options.Permission, calllog.Options.Permission,
	// audit.Options.Permission). The server checks every call whatever
	// the console shows. Default DefaultAdminPermission.
	AdminPermission string
}

// DefaultAdminPermission is the default of Options.AdminPermission, as it
// is of the modules' options.
const DefaultAdminPermission = "admin"

// Handler serves the console. It answers GET and HEAD only.
type Handler struct {
	site *static.Handler
}

// New returns the console's handler. It serves the files by their base name
// under whatever path it is mounted at, and the page itself for every other
// path, so it needs no http.StripPrefix.
func New(opts Options) *Handler {
	if opts.API == "" {
		opts.API = "/api/"
	}
	if opts.Title == "" {
		opts.Title = "authrpc admin"
	}
	if opts.AdminPermission == "" {
		opts.AdminPermission = DefaultAdminPermission
	}
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	site, err := static.New(static.Options{Files: files, Data: opts, CSP: ContentSecurityPolicy})
	if err != nil {
		panic(err) // the template and Options are fixed; tests execute it
	}
	return &Handler{site: site}
}

// ServeHTTP serves the page or one of its assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.site.ServeHTTP(w, r) }
