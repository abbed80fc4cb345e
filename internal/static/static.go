package static

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Options configure a Handler.
type Options struct {
	// Files holds index.html and the assets.
	Files fs.FS
	// Data is what index.html is executed with.
	Data any
	// Names maps the base name an asset is asked for by to its path in
	// Files; a name not in it is not found. Nil serves each file of Files
	// by its own name.
	Names map[string]string
	// CSP is the Content-Security-Policy of every response. Empty sends
	// none.
	CSP string
	// Gzip sends assets gzipped to the clients that take it. Default false.
	Gzip bool
}

// Handler serves the page and its assets.
type Handler struct {
	opts     Options
	index    []byte
	modified time.Time

	mu      sync.Mutex
	gzipped map[string][]byte // by asset name, made on first request
}

// New returns a handler for opts. It returns an error if index.html is
// not in opts.Files or does not execute with opts.Data.
func New(opts Options) (*Handler, error) {
	page, err := template.ParseFS(opts.Files, "index.html")
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	var index bytes.Buffer
	if err := page.Execute(&index, opts.Data); err != nil {
		return nil, fmt.Errorf("static: index.html: %w", err)
	}
	return &Handler{opts: opts, index: index.Bytes(), modified: time.Now(), gzipped: map[string][]byte{}}, nil
}

// ServeHTTP serves the page or one of its assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if h.opts.CSP != "" {
		hd.Set("Content-Security-Policy", h.opts.CSP)
	}
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
	data, ok := h.asset(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if h.opts.Gzip {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			// ServeContent types the answer by the name, not the gzipped bytes.
			data = h.gzip(name, data)
			hd.Set("Content-Encoding", "gzip")
		}
	}
	http.ServeContent(w, r, name, h.modified, bytes.NewReader(data))
}

// asset returns the asset served as name.
func (h *Handler) asset(name string) ([]byte, bool) {
	file := name
	if h.opts.Names != nil {
		var ok bool
		if file, ok = h.opts.Names[name]; !ok {
			return nil, false
		}
	}
	data, err := fs.ReadFile(h.opts.Files, file)
	return data, err == nil
}
