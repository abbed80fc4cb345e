package metrics_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/metrics"
	"github.com/authrpc/authrpc/rpc"
)

// benchRegistry has /v1/echo for a signed-in caller, as rpc's BenchmarkCall.
func benchRegistry(b *testing.B) (*rpc.Registry, string) {
	b.Helper()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		b.Fatal(err)
	}
	user := &auth.Principal{UserID: 2, Username: "bench", Kind: auth.KindSession, TokenID: 1}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, t string) (*auth.Principal, error) {
		if bytes.Equal(auth.Digest(t), digest) {
			return user, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/echo", Title: "Echo", Permissions: []string{auth.User},
		Params:  []rpc.Param{{Name: "text"}},
		Handler: func(ctx context.Context, text string) (string, error) { return text, nil },
	})
	return reg, token
}

// BenchmarkCall is one call through the whole handler without metrics
// (the baseline) and with them, in one run: the bar is at most 3 % more
// time and no more allocations.
func BenchmarkCall(b *testing.B) {
	body := []byte(`["world"]`)
	b.Run("baseline", func(b *testing.B) {
		reg, token := benchRegistry(b)
		benchkit.Post(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
	b.Run("metrics", func(b *testing.B) {
		reg, token := benchRegistry(b)
		if _, err := metrics.New(reg, metrics.Options{}); err != nil {
			b.Fatal(err)
		}
		benchkit.Post(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
}

// BenchmarkCallParallel is BenchmarkCall from every core at once, where
// the counters are shared.
func BenchmarkCallParallel(b *testing.B) {
	body := []byte(`["world"]`)
	b.Run("baseline", func(b *testing.B) {
		reg, token := benchRegistry(b)
		benchkit.PostParallel(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
	b.Run("metrics", func(b *testing.B) {
		reg, token := benchRegistry(b)
		if _, err := metrics.New(reg, metrics.Options{}); err != nil {
			b.Fatal(err)
		}
		benchkit.PostParallel(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
}

// BenchmarkCallAlternating runs the same call on a registry without
// metrics and on one with them in turn, in blocks of 500 calls, each
// first every other block, so that the load of the shared machine drifts
// over both alike. b.N calls go to
// each; it reports each side's CPU time and wall time per call, and their
// ratios (metrics over baseline).
func BenchmarkCallAlternating(b *testing.B) {
	body := []byte(`["world"]`)
	base, baseToken := benchRegistry(b)
	with, withToken := benchRegistry(b)
	if _, err := metrics.New(with, metrics.Options{}); err != nil {
		b.Fatal(err)
	}
	sides := []struct {
		h        http.Handler
		req      *http.Request
		cpu, all time.Duration
	}{
		{h: base, req: newPost(baseToken)},
		{h: with, req: newPost(withToken)},
	}
	b.ReportAllocs()
	b.ResetTimer()
	const block = 500
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		for j := range sides {
			i := (j + done/block) % 2 // each side first every other block
			s := &sides[i]
			cpu, start := benchkit.ProcessCPU(), time.Now()
			for range n {
				s.req.Body = io.NopCloser(bytes.NewReader(body))
				s.h.ServeHTTP(httptest.NewRecorder(), s.req)
			}
			s.all += time.Since(start)
			s.cpu += benchkit.ProcessCPU() - cpu
		}
	}
	perCall := func(d time.Duration) float64 { return float64(d) / float64(b.N) }
	b.ReportMetric(perCall(sides[0].cpu), "base-cpu-ns/op")
	b.ReportMetric(perCall(sides[1].cpu), "metrics-cpu-ns/op")
	b.ReportMetric(float64(sides[1].cpu)/float64(sides[0].cpu), "cpu-ratio")
	b.ReportMetric(float64(sides[1].all)/float64(sides[0].all), "wall-ratio")
}

// newPost is a JSON POST of /v1/echo as the bearer of token; each use sets
// its Body.
func newPost(token string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/v1/echo", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// BenchmarkHook is what the metrics add to a call, alone: StartCall and
// EndCall of an accepted call of a registered method. Beside BenchmarkCall's time per call it is the overhead, where
// the machine's load swamps a difference of a few percent between two
// runs of the whole call.
func BenchmarkHook(b *testing.B) {
	reg, _ := benchRegistry(b)
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rec := rpc.CallRecord{Method: "/v1/echo", Code: rpc.CodeOK, Runtime: 40 * time.Microsecond, CallerKind: auth.KindSession}
	start := rpc.CallStart{Transport: rpc.TransportHTTP}
	ctx := context.Background()
	b.ReportAllocs()
	cpu := benchkit.ProcessCPU()
	for b.Loop() {
		m.EndCall(m.StartCall(ctx, start), rec)
	}
	benchkit.ReportCPU(b, cpu)
}
