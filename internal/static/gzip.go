package static

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

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
