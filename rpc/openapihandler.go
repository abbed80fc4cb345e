package rpc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// OpenAPIHandler returns a handler that serves the registry's OpenAPI
// document (OpenAPI) as JSON to GET and HEAD, with an ETag, so that a
// reference page (package apiref) or a client generator can fetch it from
// the running service. The document is made on the first request and again
// only after methods are registered; an error making it answers 500 and is
// logged. It needs no authentication: it describes the methods, never data.
func (r *Registry) OpenAPIHandler() http.Handler {
	return &openAPIHandler{r: r}
}

type openAPIHandler struct {
	r *Registry

	mu       sync.Mutex
	of       *map[string]*method // the method set doc was made of
	doc      []byte
	etag     string
	modified time.Time
}

func (h *openAPIHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	hd := w.Header()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	doc, etag, modified, err := h.document()
	if err != nil {
		h.r.log.ErrorContext(req.Context(), "rpc: openapi document", "err", err)
		http.Error(w, "the document could not be made", http.StatusInternalServerError)
		return
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("ETag", etag)
	http.ServeContent(w, req, "", modified, bytes.NewReader(doc))
}

// document returns the document of the registered methods, made again
// when they changed: Register replaces the registry's method map.
func (h *openAPIHandler) document() ([]byte, string, time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	current := h.r.methods.Load()
	if h.doc != nil && h.of == current {
		return h.doc, h.etag, h.modified, nil
	}
	doc, err := h.r.OpenAPI()
	if err != nil {
		return nil, "", time.Time{}, err
	}
	sum := sha256.Sum256(doc)
	h.of, h.doc, h.modified = current, doc, time.Now()
	h.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	return h.doc, h.etag, h.modified, nil
}
