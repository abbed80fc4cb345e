package benchkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BareHandler is the yardstick benchmarks measure a registry against: a
// plain net/http handler doing by hand what a trivial method does — decode
// a JSON array holding one string and answer that string as data in the
// same envelope — and nothing else: no token, no schema, no call log.
func BareHandler() http.Handler {
	type result struct {
		Status     int            `json:"status"`
		StatusText string         `json:"status_text"`
		Exception  bool           `json:"exception"`
		Data       string         `json:"data"`
		Meta       map[string]any `json:"meta"`
	}
	type envelope struct {
		JSONRPC string `json:"jsonrpc"`
		Result  result `json:"result"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var params []string
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil || len(params) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		out, _ := json.Marshal(envelope{"2.0", result{200, "OK", false, params[0], map[string]any{}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}

// Post POSTs body to path on h b.N times, as the bearer of token ("" for
// none), after checking once that h answers 200 with want in the body. One
// request is reused, so that only the handler's work is measured.
//
// Beside ns/op it reports cpu-ns/op, the CPU time of the whole process
// (background goroutines too) per call: on a machine shared with other
// work, wall time stretches with the others' load, CPU time much less.
func Post(b *testing.B, h http.Handler, path, token string, body []byte, want string) {
	b.Helper()
	req := newPost(path, token)
	checkAnswer(b, h, req, body, want)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := ProcessCPU()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(rec, req)
	}
	ReportCPU(b, cpu)
}

// newPost returns a JSON POST to path, with token as its bearer token
// unless it is empty; each use sets its Body.
func newPost(path, token string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// checkAnswer sends body once with req and fails b unless h answers 200
// with want in the body: a benchmark must time the call it means to.
func checkAnswer(b *testing.B, h http.Handler, req *http.Request, body []byte, want string) {
	b.Helper()
	rec := httptest.NewRecorder()
	req.Body = io.NopCloser(bytes.NewReader(body))
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(want)) {
		b.Fatalf("unexpected answer %d: %s", rec.Code, rec.Body)
	}
}

// ReportCPU reports as cpu-ns/op the process's CPU time since start (a
// ProcessCPU reading) over b.N.
func ReportCPU(b *testing.B, start time.Duration) {
	if now := ProcessCPU(); now > 0 {
		b.ReportMetric(float64(now-start)/float64(b.N), "cpu-ns/op")
	}
}

// PostParallel is Post with b.RunParallel: every goroutine POSTs body to
// path on h with a request of its own, after one checked call.
func PostParallel(b *testing.B, h http.Handler, path, token string, body []byte, want string) {
	b.Helper()
	checkAnswer(b, h, newPost(path, token), body, want)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := ProcessCPU()
	defer ReportCPU(b, cpu)
	b.RunParallel(func(pb *testing.PB) {
		req := newPost(path, token)
		for pb.Next() {
			rec := httptest.NewRecorder()
			req.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(rec, req)
		}
	})
}

// HandWritten is the yardstick for a method taking one struct: what a
// careful net/http handler of that one method does by hand. It looks the
// SHA-256 digest of the bearer token up in a map (holding token's), decodes
// the positional array refusing unknown fields, checks the value with
// check, and encodes answer's result in the same envelope as BareHandler.
func HandWritten[P, R any](token string, check func(P) bool, answer func(P) R) http.Handler {
	type result struct {
		Status     int            `json:"status"`
		StatusText string         `json:"status_text"`
		Exception  bool           `json:"exception"`
		Data       R              `json:"data"`
		Meta       map[string]any `json:"meta"`
	}
	type envelope struct {
		JSONRPC string `json:"jsonrpc"`
		Result  result `json:"result"`
	}
	tokens := map[[sha256.Size]byte]bool{sha256.Sum256([]byte(token)): true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "Bearer "
		h := r.Header.Get("Authorization")
		if len(h) <= len(prefix) || !tokens[sha256.Sum256([]byte(h[len(prefix):]))] {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		var params []P
		if err := dec.Decode(&params); err != nil || len(params) != 1 || !check(params[0]) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		out, err := json.Marshal(envelope{"2.0", result{200, "OK", false, answer(params[0]), map[string]any{}}})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}
