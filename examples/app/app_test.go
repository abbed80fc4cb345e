package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// eventWait bounds the wait for an event that takes milliseconds, such as
// a change on one instance reaching another (which the contract promises
// within a second): generous, so that only a broken app runs it out,
// however loaded the machine. How long such a change takes is measured by
// BenchmarkInvalidationLatency (pubsub/natspubsub); the tests log it.
const eventWait = 10 * time.Second

// until calls cond, at first every few milliseconds and then less often,
// until it reports true, and fails the test if it has not within
// eventWait; it returns how long that took. It is for a change that no
// event announces, such as another instance's stored state; cond runs on
// the test's goroutine, so it may use require.
func until(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	return untilWithin(t, eventWait, what, cond)
}

// untilWithin is until with a deadline of its own.
func untilWithin(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(d)
	for pause := 5 * time.Millisecond; !cond(); pause = min(2*pause, 100*time.Millisecond) {
		select {
		case <-time.After(pause):
		case <-deadline:
			t.Fatalf("%s: not within %v", what, d)
		}
	}
	return time.Since(start)
}

// testApp is the example app on a real HTTP server.
type testApp struct {
	*app
	url string // the API's base URL, ending in /api
}

func startApp(t *testing.T, dsn string, tweaks ...func(*config)) *testApp {
	t.Helper()
	cfg := config{DB: dsn}
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	return startAppWith(t, cfg)
}

// startAppWith starts the app with cfg, with root's password, a quiet
// logger and a place for what it prints filled in.
func startAppWith(t *testing.T, cfg config) *testApp {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	cfg.RootPassword = "root-password-for-tests"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Out = &out
	a, err := newApp(ctx, cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, a.Shutdown(context.Background()))
		require.NoError(t, a.Close())
	})
	return &testApp{app: a, url: srv.URL + "/api"}
}

// each runs fn against the example app on SQLite and, when TEST_POSTGRES_DSN
// is set, on PostgreSQL; tweaks change the app's config.
func each(t *testing.T, fn func(t *testing.T, a *testApp), tweaks ...func(*config)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, startApp(t, storagetest.SQLiteDSN(t), tweaks...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, startApp(t, storagetest.PostgresDSN(t), tweaks...)) })
}

type reply struct {
	HTTP   int
	Raw    string
	Result *struct {
		Status     int             `json:"status"`
		StatusText string          `json:"status_text"`
		Data       json.RawMessage `json:"data"`
		Meta       map[string]any  `json:"meta"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Exception bool           `json:"exception"`
			Meta      map[string]any `json:"meta"`
		} `json:"data"`
	} `json:"error"`
}

func (r reply) code() int {
	if r.Error != nil {
		return r.Error.Code
	}
	return r.Result.Status
}

// call POSTs params (a JSON text) to a method as the bearer of token ("" for a guest).
func (a *testApp) call(t *testing.T, token, method, params string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+method, strings.NewReader(params))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(t, req)
}

func (a *testApp) send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{HTTP: resp.StatusCode, Raw: string(b)}
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), r.Raw)
	require.NoError(t, json.Unmarshal(b, &r), r.Raw)
	require.True(t, (r.Error == nil) != (r.Result == nil), r.Raw)
	return r
}

func TestTestModule(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		r := a.call(t, "", "/v1/test/test", `["hello"]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.JSONEq(t, `"hello"`, string(r.Result.Data))

		r = a.call(t, "", "/v1/test/test", ``)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Empty(t, r.Result.Data, "no argument, no data")

		r = a.call(t, "", "/v1/test/test", `[1]`)
		assert.Equal(t, -32808, r.code(), r.Raw)

		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		require.NoError(t, mw.WriteField("params", `[{"note":"x"}]`))
		fw, err := mw.CreateFormFile("file", "photo.png")
		require.NoError(t, err)
		_, err = fw.Write(bytes.Repeat([]byte{7}, 12345))
		require.NoError(t, err)
		require.NoError(t, mw.Close())
		req, err := http.NewRequest(http.MethodPost, a.url+"/v1/test/upload", &body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		r = a.send(t, req)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.JSONEq(t, `{"filename":"photo.png","size":12345,"data":{"note":"x"}}`, string(r.Result.Data))
	})
}

func TestUploadLimit(t *testing.T) {
	t.Parallel()
	a := startApp(t, storagetest.SQLiteDSN(t))
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "big.bin")
		if err == nil {
			chunk := bytes.Repeat([]byte{1}, 1<<20)
			for i := 0; i < 11 && err == nil; i++ {
				_, err = fw.Write(chunk)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, a.url+"/v1/test/upload", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := a.send(t, req)
	assert.Equal(t, 413, r.HTTP, r.Raw)
	assert.Equal(t, -32902, r.code())
}

func TestReferenceCommands(t *testing.T) {
	t.Parallel()
	dsn := storagetest.SQLiteDSN(t)
	var out, errs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-db", dsn, "markdown"}, &out, &errs), errs.String())
	assert.True(t, strings.HasPrefix(out.String(), "# API v1\n"))
	assert.Contains(t, out.String(), "### Test upload")

	out.Reset()
	require.NoError(t, run(context.Background(), []string{"-db", dsn, "openapi"}, &out, &errs), errs.String())
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, "3.1.0", doc["openapi"])
	assert.Contains(t, doc["paths"], "/v1/test/upload")

	assert.Error(t, run(context.Background(), []string{"-db", dsn, "nonsense"}, &out, &errs))
}
