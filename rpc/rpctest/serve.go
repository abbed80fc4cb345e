package rpctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authrpc/authrpc/client"
)

// Server serves a handler on a real socket for one test, for callers that
// need a network: the Go client over HTTP or WebSocket, another process.
// It closes when the test ends.
type Server struct {
	*httptest.Server
	t     testing.TB
	mount string
}

// Serve starts a Server for h, whose API is mounted at mount ("" for the
// root, "/api" for a registry with that Options.Prefix).
func Serve(t testing.TB, h http.Handler, mount string) *Server {
	t.Helper()
	s := &Server{Server: httptest.NewServer(h), t: t, mount: strings.TrimSuffix(mount, "/")}
	t.Cleanup(s.Close)
	return s
}

// APIURL returns the API's base URL: http://127.0.0.1:port/api.
func (s *Server) APIURL() string { return s.URL + s.mount }

// HTTP returns a Go client that calls over HTTP, closed when the test ends.
func (s *Server) HTTP(opts client.Options) *client.Client {
	s.t.Helper()
	return s.dial(s.APIURL(), opts)
}

// WebSocket returns a Go client whose socket is open (it answered a ping)
// and in the server's groups, so that an event published next reaches it;
// closed when the test ends.
func (s *Server) WebSocket(opts client.Options) *client.Client {
	s.t.Helper()
	c := s.dial("ws"+strings.TrimPrefix(s.APIURL(), "http")+"/", opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		s.t.Fatalf("rpctest: open a WebSocket to %s: %v", s.APIURL(), err)
	}
	return c
}

func (s *Server) dial(url string, opts client.Options) *client.Client {
	s.t.Helper()
	c, err := client.New(url, opts)
	if err != nil {
		s.t.Fatalf("rpctest: %v", err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}
