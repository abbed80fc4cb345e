package apiref

import (
	"bytes"
	"compress/gzip"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
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
	index    []byte
	files    fs.FS
	modified time.Time

	mu      sync.Mutex
	gzipped map[string][]byte // by asset name, made on first request
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
	var index bytes.Buffer
	page := template.Must(template.ParseFS(files, "index.html"))
	if err := page.Execute(&index, opts); err != nil {
		panic(err) // the template and Options are fixed; tests execute it
	}
	return &Handler{index: index.Bytes(), files: files, modified: time.Now(), gzipped: map[string][]byte{}}
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
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd.Set("Cache-Control", "no-cache") // assets change only with the binary; a reload revalidates them
	name := path.Base(r.URL.Path)
	if name == "index.html" || !strings.Contains(name, ".") {
		hd.Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", h.modified, bytes.NewReader(h.index))
		return
	}
	file, ok := served[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(h.files, file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		// ServeContent types the answer by the name, not the gzipped bytes.
		data = h.gzip(name, data)
		hd.Set("Content-Encoding", "gzip")
	}
	http.ServeContent(w, r, name, h.modified, bytes.NewReader(data))
}

// gzip returns data gzipped, made once per asset.
func (h *Handler) gzip(name string, data []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if z, ok := h.gzipped[name]; ok {
		return z
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write(data) // writes to memory do not fail
	_ = zw.Close()
	h.gzipped[name] = b.Bytes()
	return b.Bytes()
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a weight
// above zero.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true
			}
			w, err := strconv.ParseFloat(q, 64)
			return err == nil && w > 0
		}
	}
	return false
}
