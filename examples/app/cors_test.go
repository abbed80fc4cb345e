package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestCORSOriginFlag(t *testing.T) {
	t.Parallel()
	var o origins
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.Var(&o, "cors-origin", "")
	require.NoError(t, fs.Parse([]string{"-cors-origin", "https://a.example.com, https://b.example.com", "-cors-origin=https://c.example.com"}))
	assert.Equal(t, origins{"https://a.example.com", "https://b.example.com", "https://c.example.com"}, o)
	assert.Nil(t, origins(nil).cors(), "no origins: CORS off")

	ctx := context.Background()
	a, err := newApp(ctx, config{DB: storagetest.SQLiteDSN(t), RootPassword: "root-password-for-tests", CORSOrigins: o,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, a.Shutdown(context.Background()))
		require.NoError(t, a.Close())
	})

	for origin, allowed := range map[string]bool{"https://b.example.com": true, "https://d.example.com": false} {
		req, err := http.NewRequest(http.MethodOptions, srv.URL+"/api/v1/session/signin", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, http.StatusNoContent, res.StatusCode)
		if allowed {
			assert.Equal(t, origin, res.Header.Get("Access-Control-Allow-Origin"))
		} else {
			assert.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}
