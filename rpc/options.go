package rpc

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// Options configure a Registry. The zero value is ready to use.
type Options struct {
	// Logger receives handler errors and panics. Default: slog.Default().
	Logger *slog.Logger

	// Permissions is the set of permissions the host and its modules declare.
	// Default: an empty set.
	Permissions *auth.Permissions

	// Auth resolves bearer tokens to callers; modules register their
	// authenticators on it. Default: an empty mux, so every caller is a guest.
	Auth *auth.Mux

	// MaxBodyBytes bounds a JSON request body. Default: 1 MiB. A declared
	// Content-Length is checked against it, never reserved: memory follows
	// the bytes that arrive.
	MaxBodyBytes int64

	// BodyTimeout bounds how long a request body (a JSON body or an upload)
	// may take to arrive once the registry starts reading it; past it the
	// call answers 408 and the connection is closed. It is set as the
	// connection's read deadline through http.ResponseController, so it
	// holds whatever timeouts the http.Server has. Where the ResponseWriter
	// cannot set deadlines (a middleware's writer without Unwrap; the
	// registry logs a warning once), it is checked at every read instead:
	// that ends a body that trickles in, and the server's ReadTimeout must
	// end one that stalls. Method.BodyTimeout overrides it.
	// Default: DefaultBodyTimeout.
	BodyTimeout time.Duration

	// CallTimeout is the deadline of every call, from before its caller is
	// authenticated (so it reaches the auth cache's reads) to its answer. A
	// handler must pass its context to every query and dependency; the
	// storage drivers then end a query that runs past it, and the call
	// answers 503 with a generic message. A void call gets the same
	// deadline, from when it is answered; an upload's handler gets it
	// from when the upload is in. Method.Timeout overrides it.
	// Default: DefaultCallTimeout.
	CallTimeout time.Duration

	// MaxVoidCalls bounds the void calls running in the background; past it a
	// void call is refused with 429. Default: 64.
	MaxVoidCalls int

	// TrustedProxyHeader names a header, set by a reverse proxy you trust, that
	// carries the client's address ("X-Forwarded-For" or "X-Real-IP"). Empty
	// means the address of the connection. Rate limits and the per-address
	// bounds key on this address, so the header is believed only from a
	// connection whose address is in TrustedProxies; from any other peer it
	// is ignored (and the first such request is logged as a warning). The
	// header's lines are read as one comma-separated list from the right
	// (what the proxies appended), never an entry the client wrote before
	// them; see TrustedProxyHops. An entry that is not an IP address (with
	// or without a port) gives the connection's address.
	TrustedProxyHeader string

	// TrustedProxies lists the addresses (as prefixes: a single address is
	// a /32 or a /128) of the reverse proxies whose TrustedProxyHeader is
	// believed. Default: loopback only (127.0.0.0/8 and ::1), for a proxy on
	// the same host, which is as trusted as the host; a proxy anywhere else
	// must be listed, or every client behind it has the proxy's address.
	TrustedProxies []netip.Prefix

	// TrustedProxyHops is how many trusted proxies in a row may append to
	// TrustedProxyHeader, one entry each. Reading from the right, at most
	// this many entries, the client's address is the first entry that is
	// not itself in TrustedProxies; when all are, the last read. So behind
	// two proxies, list both and set 2: a client that reaches the second
	// directly is then keyed on its own address. Default 1: the right-most
	// entry, whatever it is.
	TrustedProxyHops int

	// UploadDir is where uploads are spooled while their handler runs.
	// Default: os.TempDir().
	UploadDir string

	// MaxUploads bounds the uploads being received or handled at once,
	// across all methods; past it an upload is refused at once with 503
	// and Retry-After. Default: DefaultMaxUploads.
	MaxUploads int

	// MaxSpooledBytes bounds the bytes that uploads being received or
	// handled may hold in UploadDir together. Each upload counts, from its
	// start, as its declared Content-Length or its method's MaxUploadBytes,
	// whichever is less, so a refusal comes before anything is written: 503
	// and Retry-After. Default: DefaultMaxSpooledBytes.
	MaxSpooledBytes int64

	// MaxUploadsPerAddr and MaxSpooledBytesPerAddr bound the same per
	// client address (an IPv6 /64; see TrustedProxyHeader), so that one
	// address stalling uploads cannot shut them for the others: past
	// either, that address's upload is refused at once with 503 and
	// Retry-After while other addresses' are taken. An address's first
	// upload is held to the registry-wide bounds only, so a method may take
	// uploads up to MaxSpooledBytes. Defaults: a quarter of MaxUploads and
	// of MaxSpooledBytes, at least 1 upload (4 and 64 MiB with their
	// defaults): a client uploading several files at once fits, and it
	// takes four addresses to fill the registry.
	MaxUploadsPerAddr      int
	MaxSpooledBytesPerAddr int64

	// Title heads the Markdown reference. Default: "API v1".
	Title string

	// Prefix is the path the registry is mounted under, such as "/api":
	// the method id is the request path below it, and a path outside it
	// answers -32809. It does what http.StripPrefix does, without copying
	// the request. Empty: the whole path is the method id.
	Prefix string

	// Healthcheck answers the reserved method /healthcheck (over HTTP and
	// WebSocket, for load balancers): nil is healthy, an error answers 503
	// and is logged. It gets 5 seconds. Default: always healthy; the host
	// plugs in its own, such as pinging the database.
	Healthcheck func(ctx context.Context) error

	// WebSocket configures the WebSocket transport at the mount root.
	WebSocket WebSocketOptions

	// CORS, when set, lets browser pages on the origins it allows call the
	// registry (see CORSOptions). Default: no CORS headers, and preflights
	// answer 405.
	CORS *CORSOptions

	// BaseURL is where clients reach the server, such as
	// "https://api.example.com": the references give it, with Prefix, as
	// the OpenAPI server and in the Markdown's curl calls. Default: the
	// OpenAPI server is Prefix alone (relative to wherever the document was
	// fetched), and the Markdown shows the placeholder https://api.domain.com.
	BaseURL string

	// Version is the OpenAPI document's info.version. Default: "1".
	Version string

	// Clock is the time the registry reads and waits on (see Clock).
	// Default: the real clock.
	Clock Clock

	// AuthorizedMaxAge is how long a session's authorization
	// (auth.Principal.AuthorizedAt, set by /v1/session/authorize) lets it
	// call the methods that require one (Method.RequireAuthorization).
	// Default DefaultAuthorizedMaxAge, 5 minutes.
	AuthorizedMaxAge time.Duration

	// Middleware wraps every method's calls, the first outermost, around
	// each Method.Middleware (see Middleware). It is read when a method is
	// registered. Default: none.
	Middleware []Middleware
}

// Defaults for Options.
const (
	DefaultBodyTimeout     = 30 * time.Second
	DefaultCallTimeout     = 30 * time.Second
	DefaultMaxUploads      = 16
	DefaultMaxSpooledBytes = 256 << 20
	// DefaultAuthorizedMaxAge is the default Options.AuthorizedMaxAge.
	DefaultAuthorizedMaxAge = 5 * time.Minute
)
