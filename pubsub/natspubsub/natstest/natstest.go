// Package natstest runs tests against NATS: the machine's server, named by
// the environment variable TEST_NATS_URL (default nats://127.0.0.1:4222),
// and servers in the test's own process that a test can stop, start again
// and reach through a proxy, for the faults a shared server cannot show.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EnvURL names the environment variable that holds the URL of the NATS
// server tests may use.
const EnvURL = "TEST_NATS_URL"

// DefaultURL is the server tried when EnvURL is not set.
const DefaultURL = "nats://127.0.0.1:4222"

// URL returns the URL of the machine's NATS server once it accepts TCP
// connections. When it does not, the test is skipped, saying why, or fails
// when the environment variable CI is "true": CI must not skip.
func URL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("natstest: %s must be a nats:// URL", EnvURL)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		msg := fmt.Sprintf("natstest: no NATS server at %s (%v): NATS tests skipped; start one (nats-server -a 127.0.0.1 -p 4222) or set %s", u.Host, err, EnvURL)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conn.Close()
	return raw
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// MaxPayload is the server's max_payload in bytes. Default the
	// server's own (1 MB).
	MaxPayload int32

	// NoHeaders makes the server refuse messages with headers, as servers
	// before NATS 2.2 did.
	NoHeaders bool
}

// Server is a NATS server in the test's process, on 127.0.0.1 and a port
// of its own that it keeps across Stop and Start.
type Server struct {
	t    testing.TB
	opts server.Options

	mu  sync.Mutex
	srv *server.Server
}

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: opts.MaxPayload,

		NoHeaderSupport: opts.NoHeaders,
	}}
	s.Start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port // the same one after a restart
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's nats:// URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// Addr is the server's host:port, for a proxy in front of it.
func (s *Server) Addr() string { return strings.TrimPrefix(s.URL(), "nats://") }

// Start starts the server again after Stop, on the same port; it does
// nothing while the server runs.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	opts := s.opts // the server keeps and changes what it is given
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server on port %d not ready within 10 s", s.opts.Port)
	}
	s.srv = srv
}

// Stop shuts the server down, closing every client connection, and
// returns once it is down.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}
