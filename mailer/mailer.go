package mailer

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// Defaults of Config and Options.
const (
	DefaultPort    = 587 // message submission, STARTTLS
	DefaultTimeout = 10 * time.Second
)

// Config names an SMTP server, the account to sign in with and the sender.
type Config struct {
	Host string // host name or IP address; empty: mail is not configured
	Port int    // 0: DefaultPort
	// Username, when set, makes the client authenticate (AUTH) with Password.
	Username string
	Password string
	// From is the sender of messages: "noreply@example.com" or
	// "Example <noreply@example.com>". Test does not need it.
	From string
}

// addr returns host:port, with the default port for 0.
func (c Config) addr() string {
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// Options tune how a Mailer (or Test) talks to the server. Zero Options are valid.
type Options struct {
	// Timeout bounds one whole exchange with the server: connecting, TLS,
	// AUTH, sending and QUIT. Default DefaultTimeout (10 s).
	Timeout time.Duration

	// TLSConfig is used for implicit TLS and STARTTLS; its ServerName is set
	// to the Config's host. Default: the system's roots, TLS 1.2 or later.
	TLSConfig *tls.Config

	// ImplicitTLSPorts are the ports where the connection is TLS from the
	// first byte. Every other port speaks plain SMTP and switches to TLS with
	// STARTTLS when the server offers it. Nil: {465}; empty: none.
	ImplicitTLSPorts []int

	// HELO is the name the client introduces itself with. Default: the
	// machine's host name, or "localhost".
	HELO string

	// Logger receives what happens after a message was handed over (a
	// failed QUIT) and, at debug level, each message sent. Default
	// slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ImplicitTLSPorts == nil {
		o.ImplicitTLSPorts = []int{465}
	}
	if o.HELO == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			o.HELO = h
		} else {
			o.HELO = "localhost"
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o Options) tlsConfig(host string) *tls.Config {
	var c *tls.Config
	if o.TLSConfig != nil {
		c = o.TLSConfig.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	c.ServerName = host
	return c
}

// Test connects to the server of cfg, switches to TLS (implicit on the
// ImplicitTLSPorts, else STARTTLS when the server offers it), authenticates
// when cfg has a Username, and says QUIT. It answers within opts.Timeout or
// when ctx ends, whichever comes first. A failure is an *Error quoting the
// server's reply or the network error, or ErrNotConfigured for an empty Host.
func Test(ctx context.Context, cfg Config, opts Options) error {
	return exchange(ctx, cfg, opts.withDefaults(), nil)
}

// Mailer sends messages through the SMTP server that its source names at
// the time of each message. It is safe for concurrent use.
type Mailer struct {
	source func(ctx context.Context) (Config, error)
	opts   Options

	mu        sync.RWMutex
	templates map[string]*compiled
}

// New returns a Mailer that asks source for the server before each message
// (the settings module's SMTP method is such a source), and holds the
// built-in templates.
func New(source func(ctx context.Context) (Config, error), opts Options) *Mailer {
	return &Mailer{source: source, opts: opts.withDefaults(), templates: builtinTemplates()}
}

// exchange runs one SMTP session: connect, TLS, greeting, EHLO, STARTTLS,
// AUTH, then fn (nil for none), then QUIT. All of it shares one deadline,
// and ctx ending interrupts whatever the session is waiting for.
func exchange(ctx context.Context, cfg Config, o Options, fn func(c *smtp.Client, fail failFunc) error) error {
	if cfg.Host == "" {
		return fmt.Errorf("%w: no SMTP host", ErrNotConfigured)
	}
	addr := cfg.addr()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	fail := func(op string, err error) error { return failure(ctx, start, addr, op, err) }

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(OpConnect, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fail(OpConnect, err)
	}
	// Nothing else sets deadlines on conn, so this one ends any wait at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := o.tlsConfig(cfg.Host)
	var nc net.Conn = conn
	implicit := slices.Contains(o.ImplicitTLSPorts, portOf(cfg))
	if implicit {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(OpTLS, err)
		}
		nc = tc
	}
	c, err := smtp.NewClient(nc, cfg.Host)
	if err != nil {
		return fail(OpGreeting, err)
	}
	if err := c.Hello(o.HELO); err != nil {
		return fail(OpHello, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !implicit {
		if err := c.StartTLS(tlsConfig); err != nil {
			return fail(OpStartTLS, err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(&authenticator{user: cfg.Username, pass: cfg.Password, host: cfg.Host}); err != nil {
			return fail(OpAuth, err)
		}
	}
	if fn != nil {
		if err := fn(c, fail); err != nil {
			return err
		}
	}
	if err := c.Quit(); err != nil {
		return fail(OpQuit, err)
	}
	return nil
}

type failFunc = func(op string, err error) error

func portOf(cfg Config) int {
	if cfg.Port == 0 {
		return DefaultPort
	}
	return cfg.Port
}
