package client

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configure a Client. The zero value calls as a guest, in JSON,
// through http.DefaultClient.
type Options struct {
	// Token is the bearer token calls are made with; "" calls as a guest.
	// SetToken changes it later.
	Token string
	// Encoding is JSON (the zero value) or MessagePack, for requests and
	// answers alike.
	Encoding Encoding
	// HTTPClient makes the HTTP requests and the WebSocket upgrade; nil
	// uses http.DefaultClient.
	HTTPClient *http.Client
	// Header is sent with every HTTP request and with the upgrade: an
	// Origin, a User-Agent. Authorization and Content-Type are the
	// client's own.
	Header http.Header
	// Reconnect paces a WebSocket's reconnects; the zero value is
	// Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}.
	Reconnect Backoff
	// After times the waits between reconnects: the channel it returns
	// receives once the wait is over. Tests set it to a fake clock's, to
	// see each wait and end it. Nil means time.After.
	After func(d time.Duration) <-chan time.Time
	// PingInterval is how often a socket is checked with a protocol-level
	// ping; a ping not answered within the interval drops the socket, and
	// the client reconnects. Zero means 30 seconds; negative sends no pings.
	PingInterval time.Duration
	// MaxMessageBytes bounds one answer read: an HTTP body or a WebSocket
	// message. Zero means 32 MiB.
	MaxMessageBytes int64
	// Logger receives the socket's connects and disconnects (Debug) and
	// failed dials (Info); nil discards them.
	Logger *slog.Logger
}

// Backoff paces reconnects: the n-th reconnect in a row waits Min·2ⁿ,
// at most Max, drawn at random between half of that and all of it, so
// that many clients dropped at once do not come back at once.
type Backoff struct {
	Min time.Duration // zero means 100 ms
	Max time.Duration // zero means 10 s
}

// delay is the wait before the reconnect after n failed ones in a row.
func (b Backoff) delay(n int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 10 * time.Second
	}
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// Client calls the methods of an authrpc server over HTTP or a WebSocket,
// with one API for both. It is safe for use by several goroutines at once.
type Client struct {
	opts   Options
	log    *slog.Logger
	events *events
	tr     transport

	mu    sync.Mutex
	token string
}

// transport is how calls travel: HTTP requests or messages on a socket.
type transport interface {
	call(ctx context.Context, method string, params []any, void bool) (*Result, error)
	ping(ctx context.Context) error
	tokenChanged()
	close() error
}

// New returns a client of the API mounted at rawURL, such as
// "http://127.0.0.1:8080/api" or "ws://127.0.0.1:8080/api/". The scheme picks
// the transport: http and https call over HTTP, one request per call; ws and
// wss keep one WebSocket open, connected at once and again after every
// disconnect, with a backoff, until Close. Calls made while the socket is
// down wait for it (until their context ends).
func New(rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 32 << 20
	}
	if opts.After == nil {
		opts.After = time.After
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, log: log, token: opts.Token}
	c.events = newEvents(c)
	switch u.Scheme {
	case "http", "https":
		base := *u
		base.RawQuery, base.Fragment = "", ""
		c.tr = &httpTransport{c: c, base: strings.TrimSuffix(base.String(), "/")}
	case "ws", "wss":
		c.tr = newSocket(c, u.String())
	default:
		return nil, fmt.Errorf("client: URL %q: the scheme must be http, https, ws or wss", rawURL)
	}
	return c, nil
}

// Call calls method (such as "/v1/admin/users/read") with params as its
// positional parameters and waits for the answer. A refusal or an internal
// error of the server is an *Error; anything else (a network error, the
// socket closed while the call was out, ctx ended) is another error.
func (c *Client) Call(ctx context.Context, method string, params ...any) (*Result, error) {
	return c.tr.call(ctx, method, params, false)
}

// VoidCall calls method without waiting for its result: the server runs
// the call in the background. Over HTTP it answers at once, so a call it
// refuses outright (bad parameters, no permission) is still an *Error; over
// a WebSocket nothing is answered, and the error says only whether the call
// was sent.
func (c *Client) VoidCall(ctx context.Context, method string, params ...any) error {
	_, err := c.tr.call(ctx, method, params, true)
	return err
}

// Call calls method on c and decodes the answer's data into a T, as
// Result.Decode does.
func Call[T any](ctx context.Context, c *Client, method string, params ...any) (T, error) {
	var v T
	r, err := c.Call(ctx, method, params...)
	if err != nil {
		return v, err
	}
	err = r.Decode(&v)
	return v, err
}

// Publish sends the event name with args to the server's host hook, as the
// caller c is (a void /publish call).
func (c *Client) Publish(ctx context.Context, name string, args ...any) error {
	return c.VoidCall(ctx, "/publish", append([]any{name}, args...)...)
}

// Ping checks that the server answers: over a WebSocket a /ping message
// answered by /pong, over HTTP a /ping call.
func (c *Client) Ping(ctx context.Context) error { return c.tr.ping(ctx) }

// Token returns the bearer token calls are made with.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken changes the bearer token of later calls; "" makes them a
// guest's. A WebSocket, which is authenticated once when it connects,
// reconnects with the new token; calls out on the old socket fail.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	changed := c.token != token
	c.token = token
	c.mu.Unlock()
	if changed {
		c.tr.tokenChanged()
	}
}

// Close closes the socket (WebSocket) and stops delivering events. Calls
// after Close fail with ErrClosed.
func (c *Client) Close() error {
	err := c.tr.close()
	c.events.close()
	return err
}

// encodeRequest returns the JSON-RPC request object for a call, in enc;
// id 0 is a void call, which has no id.
func encodeRequest(enc Encoding, method string, params []any, id uint64) ([]byte, error) {
	if params == nil {
		params = []any{}
	}
	req := struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
		ID      uint64 `json:"id,omitempty"`
	}{"2.0", method, params, id}
	js, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s: marshal the parameters: %w", method, err)
	}
	return enc.encode(js)
}
