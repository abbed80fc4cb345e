package benchkit_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// The yardsticks answer in the registry's envelope, which rpctest checks,
// so that a benchmark compares the same bytes on the wire.
func TestBareHandlerAnswersTheEnvelope(t *testing.T) {
	t.Parallel()
	a := rpctest.New(benchkit.BareHandler()).Call(t, "/v1/echo", "world")
	var got string
	a.Decode(t, &got)
	assert.Equal(t, "world", got)
}

type greet struct {
	Name string `json:"name"`
}

func TestHandWrittenChecksTokenAndParams(t *testing.T) {
	t.Parallel()
	h := benchkit.HandWritten("tok", func(p greet) bool { return p.Name != "" },
		func(p greet) string { return "Hello, " + p.Name })

	a := rpctest.New(h).As("tok").Call(t, "/v1/greet", greet{Name: "Ann"})
	var got string
	a.Decode(t, &got)
	assert.Equal(t, "Hello, Ann", got)

	for name, c := range map[string]struct{ token, body string }{
		"no token":      {"", `[{"name":"Ann"}]`},
		"other token":   {"other", `[{"name":"Ann"}]`},
		"unknown field": {"tok", `[{"name":"Ann","x":1}]`},
		"check fails":   {"tok", `[{"name":""}]`},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/greet", strings.NewReader(c.body))
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.NotEqual(t, http.StatusOK, rec.Code, name)
	}
}

func BenchmarkPost(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		benchkit.Post(b, benchkit.BareHandler(), "/v1/echo", "", []byte(`["world"]`), `"data":"world"`)
	})
	b.Run("bare-parallel", func(b *testing.B) {
		benchkit.PostParallel(b, benchkit.BareHandler(), "/v1/echo", "", []byte(`["world"]`), `"data":"world"`)
	})
}

func TestProcessCPUGrows(t *testing.T) {
	t.Parallel()
	start := benchkit.ProcessCPU()
	if start == 0 {
		t.Skip("the system does not report CPU time")
	}
	x := 0
	for i := range 50_000_000 {
		x += i % 7
	}
	require.NotZero(t, x)
	assert.Greater(t, benchkit.ProcessCPU(), start)
}
