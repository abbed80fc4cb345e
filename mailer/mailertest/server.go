// Package mailertest runs SMTP servers inside a test process, for tests of
// code that sends mail: a server that takes mail (without TLS, with
// STARTTLS, or with implicit TLS; with or without AUTH) and keeps what it
// received, one that never answers, and an address where nothing listens.
package mailertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/authrpc/authrpc/mailer"
)

// Mode is how a Server secures its connections.
type Mode int

const (
	// Plain: no TLS; AUTH is offered on the plain connection.
	Plain Mode = iota
	// StartTLS: STARTTLS is offered, and AUTH only after it.
	StartTLS
	// ImplicitTLS: TLS from the first byte, as on port 465.
	ImplicitTLS
)

// Options configure a Server. Zero Options are a plain server without AUTH.
type Options struct {
	Mode Mode
	// Username and Password, when Username is set, are the only credentials
	// the server takes (AUTH PLAIN); others get "535 5.7.8 Authentication
	// failed", and mail needs AUTH first. Without Username the server offers
	// no AUTH and takes mail from anyone.
	Username, Password string
}

// Server is an SMTP server on 127.0.0.1 that keeps the messages it receives.
type Server struct {
	Host string // "127.0.0.1"
	Port int

	opts      Options
	clientTLS *tls.Config

	mu       sync.Mutex
	messages []Message
	notify   chan struct{}
}

// NewServer starts a server that stops when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Host: "127.0.0.1", opts: opts, notify: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailertest: listen: %v", err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port

	srv := smtp.NewServer(s)
	srv.Domain = "mailertest.local"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if opts.Mode != Plain {
		serverTLS, clientTLS := certificate(t)
		s.clientTLS = clientTLS
		if opts.Mode == StartTLS {
			srv.TLSConfig = serverTLS
		} else {
			ln = tls.NewListener(ln, serverTLS)
		}
	} else {
		srv.AllowInsecureAuth = true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Config returns a mailer.Config for the server, with its credentials and
// the sender "Example <noreply@example.com>".
func (s *Server) Config() mailer.Config {
	return mailer.Config{
		Host: s.Host, Port: s.Port,
		Username: s.opts.Username, Password: s.opts.Password,
		From: "Example <noreply@example.com>",
	}
}

// MailerOptions returns mailer.Options that reach the server: they trust
// its certificate, and treat its port as implicit TLS in that Mode.
func (s *Server) MailerOptions() mailer.Options {
	o := mailer.Options{Timeout: 5 * time.Second, HELO: "client.test", ImplicitTLSPorts: []int{}}
	if s.clientTLS != nil {
		o.TLSConfig = s.clientTLS.Clone()
	}
	if s.opts.Mode == ImplicitTLS {
		o.ImplicitTLSPorts = []int{s.Port}
	}
	return o
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the n-th message (counting from 1) once it has arrived, or
// fails the test after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) Message {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs[n-1]
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("mailertest: message %d did not arrive within %s", n, timeout)
			return Message{}
		}
	}
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var errAuthFirst = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.Username != "" && !se.authed {
		return errAuthFirst
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Unreadable message: " + err.Error()}
	}
	m.From, m.To = se.from, se.to
	_, m.TLS = se.conn.TLSConnectionState()
	se.s.keep(m)
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// Silent starts a listener on 127.0.0.1 that accepts connections and never
// says a word, and returns its host and port. It stops when the test ends.
func Silent(t testing.TB) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailertest: listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, unanswered, until the end
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
}

// Unreachable returns a host and port on 127.0.0.1 where nothing listens:
// connecting there is refused.
func Unreachable(t testing.TB) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailertest: listen: %v", err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("mailertest: close: %v", err)
	}
	return "127.0.0.1", port
}

// certificate makes a self-signed certificate for 127.0.0.1 and localhost,
// and returns a server config with it and a client config that trusts it.
func certificate(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailertest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mailertest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},

		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailertest: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("mailertest: certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	return server, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
