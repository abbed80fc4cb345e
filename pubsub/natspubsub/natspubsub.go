package natspubsub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/authrpc/authrpc/internal/chansubs"
)

// DefaultPrefix is put before a channel's name to make its subject when
// Options.Prefix is empty: Channel("auth") publishes on "authrpc.auth".
const DefaultPrefix = "authrpc."

// Defaults for Options.
const (
	defaultName           = "authrpc"
	defaultMinBackoff     = 100 * time.Millisecond
	defaultMaxBackoff     = 5 * time.Second
	defaultPingInterval   = 5 * time.Second
	defaultConnectTimeout = 10 * time.Second
	defaultMaxPending     = 65536
	defaultMaxPendingSize = 64 << 20
	defaultMaxAssembling  = 64
	defaultMaxAssemblyB   = 64 << 20
	defaultChunkTimeout   = 30 * time.Second

	// maxPingsOut unanswered pings make nats.go drop the connection and
	// reconnect.
	maxPingsOut = 2
)

// Options configure a Sync. The zero value is usable.
type Options struct {
	// Prefix is put before every channel's name to make its subject:
	// dot-separated tokens of [A-Za-z0-9_-], ending with a dot, such as
	// "shop.authrpc.". Give services that share a NATS server but not
	// their users different prefixes, so that they do not hear each other
	// (an event for user 100 of one would reach user 100 of the other).
	// Default DefaultPrefix, "authrpc.".
	Prefix string

	// Name is the connection's name, as the server's monitoring shows it.
	// Default "authrpc".
	Name string

	// Logger receives reports about the connection: lost (Warn), back
	// (Info), messages dropped by a slow subscriber (Warn). Default
	// slog.Default().
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between attempts to
	// reconnect: it starts at MinBackoff and doubles up to MaxBackoff, with
	// jitter so that instances do not all come back at the same moment.
	// Defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration

	// PingInterval is how often the client pings the server; two pings
	// without an answer drop the connection, which is then reopened. A
	// connection that the network dropped without a word is thus found out
	// within about three intervals. Default 5 s.
	PingInterval time.Duration

	// MaxPending is how many received messages a channel holds for its
	// subscribers (and MaxPendingBytes how many bytes) before it drops
	// further ones as too slow, which it reports as a gap (see
	// Channel.OnState). Defaults 65,536 messages and 64 MB.
	MaxPending      int
	MaxPendingBytes int

	// A payload bigger than the server's max_payload travels in chunks
	// (see Channel.Publish) that the receiving Sync puts back together.
	// MaxAssembling bounds how many payloads it holds incomplete at once,
	// over all its channels, and MaxAssemblyBytes the bytes they hold: a
	// new payload past either drops the oldest incomplete ones, and a
	// payload bigger than MaxAssemblyBytes is dropped at its first chunk.
	// A payload whose chunks stop coming (a chunk lost with the
	// connection, a publisher that failed half-way) is dropped
	// ChunkTimeout after its first chunk, or as soon as a later chunk of
	// it shows one missing. Every payload dropped is reported as a gap of
	// its channel, as a slow subscriber's drops are. Defaults 64
	// payloads, 64 MB and 30 s.
	MaxAssembling    int
	MaxAssemblyBytes int
	ChunkTimeout     time.Duration

	// ConnectTimeout bounds Connect's wait for the first connection (ctx
	// may end it sooner). Default 10 s.
	ConnectTimeout time.Duration

	// After times ConnectTimeout, and the pause before subscriptions the
	// server did not confirm are tried again (MinBackoff): the channel it
	// returns receives once the wait is over. The waits between reconnects
	// are nats.go's own. Tests set it to a fake clock's. Default
	// time.After.
	After func(d time.Duration) <-chan time.Time

	// Now is the time ChunkTimeout is measured on. Default time.Now.
	Now func() time.Time

	// NATS holds further options of the connection, such as credentials
	// (nats.UserCredentials) or TLS (nats.RootCAs). They are applied before
	// the Sync's own, which set the name, the reconnection, the pings, the
	// connection's handlers and nats.NoEcho.
	NATS []nats.Option
}

// Sync carries short messages between the instances of a service over one
// NATS connection, on named channels. Get one with Connect; it is safe for
// concurrent use. Close stops it.
type Sync struct {
	nc           *nats.Conn
	log          *slog.Logger
	prefix       string
	minBackoff   time.Duration
	maxBackoff   time.Duration
	after        func(time.Duration) <-chan time.Time
	pingInterval time.Duration
	maxPending   int
	maxPendingB  int
	chunkTimeout time.Duration
	chunks       *assembler

	// kick wakes the goroutine that subscribes and confirms.
	kick chan struct{}
	// assembling says a chunked payload began, so that the goroutine
	// watches its age.
	assembling chan struct{}
	stop       chan struct{}
	done       chan struct{}

	// gen counts the losses of the connection (and of messages): a
	// confirmation that began before one does not make the channels
	// listening.
	gen atomic.Uint64

	mu       sync.Mutex
	channels map[string]*Channel // by name
	wanted   []*Channel          // channels to subscribe to; only grows
	closed   bool

	// stateMu serialises state callbacks, so that each sees the changes in
	// the order they happened. Never taken while holding mu.
	stateMu sync.Mutex

	listening atomic.Bool
}

// Channel is a named topic of a Sync; it implements pubsub.Channel. Get
// one with Sync.Channel.
type Channel struct {
	sync    *Sync
	name    string
	subject string

	subs chansubs.Payloads

	// Under sync.mu.
	interested bool // wanted: the Sync subscribes to the subject
	// Only the Sync's goroutine sets it; the error handler reads it.
	sub atomic.Pointer[nats.Subscription]

	states chansubs.States // under sync.stateMu
}

// Connect opens a connection to the NATS server(s) at url (a
// comma-separated list of nats:// URLs) and returns a Sync on it, once the
// connection is up. It fails if no server answers within
// Options.ConnectTimeout or before ctx ends. The Sync then runs, and
// reconnects, until Close, whatever becomes of ctx.
func Connect(ctx context.Context, url string, opts Options) (*Sync, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !validPrefix(prefix) {
		return nil, fmt.Errorf("natspubsub: prefix %q: want dot-separated tokens of [A-Za-z0-9_-], ending with a dot", prefix)
	}
	s := &Sync{
		log:          opts.Logger,
		prefix:       prefix,
		minBackoff:   opts.MinBackoff,
		maxBackoff:   opts.MaxBackoff,
		after:        opts.After,
		pingInterval: opts.PingInterval,
		maxPending:   cmp.Or(max(opts.MaxPending, 0), defaultMaxPending),
		maxPendingB:  cmp.Or(max(opts.MaxPendingBytes, 0), defaultMaxPendingSize),
		chunkTimeout: cmp.Or(max(opts.ChunkTimeout, 0), defaultChunkTimeout),
		kick:         make(chan struct{}, 1),
		assembling:   make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		channels:     make(map[string]*Channel),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s.chunks = newAssembler(now, cmp.Or(max(opts.MaxAssembling, 0), defaultMaxAssembling),
		cmp.Or(max(opts.MaxAssemblyBytes, 0), defaultMaxAssemblyB), s.chunkTimeout)
	if s.minBackoff <= 0 {
		s.minBackoff = defaultMinBackoff
	}
	if s.after == nil {
		s.after = time.After
	}
	if s.maxBackoff <= 0 {
		s.maxBackoff = defaultMaxBackoff
	}
	s.maxBackoff = max(s.maxBackoff, s.minBackoff)
	if s.pingInterval <= 0 {
		s.pingInterval = defaultPingInterval
	}
	name := opts.Name
	if name == "" {
		name = defaultName
	}
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}

	connected := make(chan struct{})
	var once sync.Once
	up := func(*nats.Conn) {
		once.Do(func() { close(connected) })
		s.poke()
	}
	nopts := append(slices.Clone(opts.NATS),
		nats.Name(name),
		nats.NoEcho(), // Publish has delivered here already
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(s.backoff),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(s.pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(up),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.log.Info("natspubsub: connection back; listening once the subscriptions are confirmed", "server", nc.ConnectedUrlRedacted())
			up(nc)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if !s.isClosed() { // Close disconnects too
				s.log.Warn("natspubsub: connection lost; not listening until it is back", "error", err)
			}
			s.lost(nil)
		}),
		nats.ClosedHandler(func(*nats.Conn) { s.lost(nil) }),
		nats.ErrorHandler(s.asyncError),
	)
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return nil, fmt.Errorf("natspubsub: connect: %w", err)
	}
	s.nc = nc

	expired := s.after(timeout)
	select {
	case <-connected:
	case <-ctx.Done():
		nc.Close()
		return nil, fmt.Errorf("natspubsub: connect: %w (last error: %v)", ctx.Err(), nc.LastError())
	case <-expired:
		nc.Close()
		return nil, fmt.Errorf("natspubsub: connect: no server answered within %v (last error: %v)", timeout, nc.LastError())
	}
	// Connected, and no channel wanted yet: listening to all of them.
	s.listening.Store(true)
	go s.run()
	return s, nil
}

// backoff is the wait before reconnect attempt n: doubling from
// minBackoff up to maxBackoff, and between half and all of it, so that
// instances that lost the server together do not return together.
func (s *Sync) backoff(attempts int) time.Duration {
	d := s.minBackoff
	for i := 1; i < attempts && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return d/2 + mathrand.N(d/2+1)
}

func validPrefix(p string) bool {
	if p == "" || p[len(p)-1] != '.' {
		return false
	}
	token := 0
	for _, r := range p {
		switch {
		case r == '.':
			if token == 0 {
				return false
			}
			token = 0
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			token++
		default:
			return false
		}
	}
	return true
}

func (s *Sync) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Conn returns the Sync's connection, for a host that publishes subjects
// of its own on it. Close the Sync, not the connection.
func (s *Sync) Conn() *nats.Conn { return s.nc }

// Listening reports whether messages from other instances reach this Sync
// on every channel subscribed so far: while the connection is up and the
// server has confirmed every subscription; never after Close.
func (s *Sync) Listening() bool { return s.listening.Load() }

// Close closes the connection (sending what Publish left in its buffer
// first), tells the state subscribers that their channels no longer
// listen, and waits, until ctx ends, for the Sync's goroutine to end.
// Publish still delivers to this instance's subscribers afterwards, and
// fails for the others. Close must not be called from a subscriber.
// Calling it again does nothing. Hand it to rpc.Registry.OnShutdown before
// mounting the modules that use its channels, so that it stops after them.
func (s *Sync) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.nc.Close()
	s.lost(nil) // the closed handler runs later, on nats.go's goroutine
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("natspubsub: close: %w", ctx.Err())
	}
}

// Channel returns the channel of the given name, the same one for the same
// name. A name is 1 to 32 of [a-z0-9_], starting with a letter, as
// storage.Sync's are; Channel panics on any other (names are constants in
// the code that uses them).
func (s *Sync) Channel(name string) *Channel {
	if !chansubs.ValidName(name) {
		panic(fmt.Sprintf("natspubsub: bad channel name %q: want 1 to %d of [a-z0-9_], starting with a letter", name, chansubs.MaxName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[name]; c != nil {
		return c
	}
	c := &Channel{sync: s, name: name, subject: s.prefix + name}
	s.channels[name] = c
	return c
}

// Name returns the channel's name, without the prefix.
func (c *Channel) Name() string { return c.name }

// Subject returns the NATS subject the channel publishes on and listens
// to: the Sync's prefix and the channel's name.
func (c *Channel) Subject() string { return c.subject }

// Publish sends payload to the channel's subscribers in every instance.
//
// Those of this instance get it first, synchronously, before Publish
// returns, so this instance is never behind the others, even when sending
// to them fails. Then it goes to the NATS connection's buffer, which sends
// it to the server at once, or after a reconnect when the connection is
// down (nats.go keeps up to 8 MB meanwhile); the server delivers it to the
// other instances that listen, and not back to this one.
//
// A payload bigger than the server's max_payload (read from the
// connection at each Publish) goes in chunks that each fit it, with a
// header (ChunkHeader) naming the payload, the chunk's index and the
// count; the receiving Syncs deliver it whole once its last chunk is in,
// or never (see Options.MaxAssembling). While the connection is down the
// chunks wait in nats.go's buffer like any message, and Publish fails
// once they would outgrow it. A server that takes no headers, or a
// max_payload that leaves under 512 bytes a chunk (about 600 in all),
// refuses such a payload with an error that wraps nats.ErrMaxPayload, and
// it is delivered to nobody.
func (c *Channel) Publish(ctx context.Context, payload string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("natspubsub: publish on %s: %w", c.name, err)
	}
	limit := c.sync.nc.MaxPayload()
	if limit <= 0 || int64(len(payload)) <= limit {
		c.deliver(payload)
		if err := c.sync.nc.Publish(c.subject, []byte(payload)); err != nil {
			return fmt.Errorf("natspubsub: publish on %s: %w", c.name, err)
		}
		return nil
	}
	plan, err := c.cut(payload, limit)
	if err != nil {
		return fmt.Errorf("natspubsub: publish on %s: %w", c.name, err)
	}
	c.deliver(payload)
	if err := c.publishChunks(payload, plan); err != nil {
		return fmt.Errorf("natspubsub: publish on %s: payload of %d bytes: %w", c.name, len(payload), err)
	}
	return nil
}

// Subscribe calls fn with every payload published on the channel: by this
// instance (synchronously, inside its Publish) and by the others (from
// the subscription's goroutine, in the order the server delivers them). fn
// may thus run concurrently with itself, must be quick, and should be
// idempotent. It must not call Close. The first Subscribe or OnState of a
// channel makes the Sync subscribe to its subject.
//
// A message on the subject that did not come from a Sync (an operator's
// `nats pub authrpc.auth '*'`) is delivered as it is.
func (c *Channel) Subscribe(fn func(payload string)) {
	if fn == nil {
		panic("natspubsub: Subscribe: nil func")
	}
	c.subs.Add(fn)
	c.sync.want(c)
}

// OnState calls fn with whether the channel is listening, that is whether
// messages from other instances reach its subscribers: at once, before
// OnState returns, and then at every change, in order. It turns true once
// the server has confirmed the channel's subscription, false the moment the
// connection is found lost, when the subscription dropped messages (it was
// too slow), and at Close; true again once the subscription is confirmed
// after a reconnect. A new channel's first report is false.
//
// fn runs with the Sync's state lock held: it must be quick and must not
// call OnState.
func (c *Channel) OnState(fn func(listening bool)) {
	if fn == nil {
		panic("natspubsub: OnState: nil func")
	}
	s := c.sync
	s.stateMu.Lock()
	c.states.Add(fn)
	s.stateMu.Unlock()
	s.want(c)
}

func (c *Channel) deliver(payload string) { c.subs.Deliver(payload) }

// receive delivers a message from the server: a payload whole, or a chunk
// of one, which waits for the others.
func (c *Channel) receive(m *nats.Msg) {
	v := m.Header.Get(ChunkHeader)
	if v == "" {
		c.deliver(string(m.Data))
		return
	}
	s := c.sync
	ch, ok := parseChunk(v)
	if !ok {
		s.log.Warn("natspubsub: a message with a chunk header not written by a Sync; dropped", "subject", c.subject, "header", v)
		return
	}
	payload, done, started, drops := s.chunks.add(c, ch, m.Data)
	s.dropped(drops)
	if started {
		select {
		case s.assembling <- struct{}{}:
		default:
		}
	}
	if done {
		c.deliver(payload)
	}
}

// Assembling says how many payloads that travel in chunks are incomplete
// (their chunks still arriving), over all the Sync's channels, and how
// many bytes they hold.
func (s *Sync) Assembling() (payloads, bytes int) { return s.chunks.held() }

// dropped reports the chunked payloads the Sync gave up on: each is a gap
// of its channel, which listens again once the subscription is confirmed.
func (s *Sync) dropped(drops []drop) {
	for _, d := range drops {
		s.log.Warn("natspubsub: a payload sent in chunks was dropped; not listening until confirmed again",
			"subject", d.c.subject, "id", d.id, "reason", d.reason, "bytes_held", d.held)
		s.lost(d.c)
	}
	if len(drops) > 0 {
		s.poke()
	}
}

// want makes the Sync subscribe to c's subject, if it does not already.
func (s *Sync) want(c *Channel) {
	s.mu.Lock()
	if c.interested || s.closed {
		s.mu.Unlock()
		return
	}
	c.interested = true
	s.wanted = append(s.wanted, c)
	s.listening.Store(false)
	s.mu.Unlock()
	s.poke()
}

// poke wakes the Sync's goroutine, if it is not awake already.
func (s *Sync) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run subscribes to the wanted channels and reports them listening once
// the server has confirmed, each time it is woken, until Close.
func (s *Sync) run() {
	defer close(s.done)
	s.poke()                    // a channel may have been wanted before the goroutine started
	var expire <-chan time.Time // while chunked payloads are incomplete
	for {
		select {
		case <-s.stop:
			return
		case <-s.assembling:
			if expire == nil {
				expire = s.after(s.chunkTimeout)
			}
			continue
		case <-expire:
			drops, next, ok := s.chunks.sweep()
			s.dropped(drops)
			expire = nil
			if ok {
				expire = s.after(next)
			}
			continue
		case <-s.kick:
		}
		if !s.confirm() {
			// The connection is up but the server did not answer in time:
			// try again shortly (a lost connection pokes by itself).
			select {
			case <-s.stop:
				return
			case <-s.after(s.minBackoff):
				s.poke()
			}
		}
	}
}

// confirm subscribes to the wanted channels not yet subscribed, makes sure
// the server has every subscription (a round trip: the server handles a
// connection's messages in order), and then, unless the connection was
// lost meanwhile, reports them listening. It reports false when the round
// trip failed on a connection that is still up.
func (s *Sync) confirm() bool {
	gen := s.gen.Load()
	if !s.nc.IsConnected() {
		return true // the reconnect handler pokes
	}
	s.mu.Lock()
	wanted := s.wanted
	s.mu.Unlock()
	for _, c := range wanted {
		if c.sub.Load() != nil {
			continue // nats.go subscribes again by itself after a reconnect
		}
		sub, err := s.nc.Subscribe(c.subject, c.receive)
		if err != nil {
			s.log.Warn("natspubsub: subscribe failed", "subject", c.subject, "error", err)
			return !s.nc.IsConnected()
		}
		if err := sub.SetPendingLimits(s.maxPending, s.maxPendingB); err != nil {
			panic(fmt.Sprintf("natspubsub: pending limits: %v", err)) // both are positive
		}
		c.sub.Store(sub)
	}
	if err := s.nc.FlushTimeout(s.pingInterval); err != nil {
		if s.nc.IsConnected() {
			s.log.Warn("natspubsub: the server did not confirm the subscriptions", "error", err)
			return false
		}
		return true
	}

	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.gen.Load() != gen {
		return true // lost again meanwhile; whoever lost it pokes
	}
	s.mu.Lock()
	all := len(s.wanted) == len(wanted) && !s.closed
	s.mu.Unlock()
	if all {
		s.listening.Store(true)
	}
	for _, c := range wanted {
		c.setState(true)
	}
	return true
}

// lost reports the channels not listening: all of them, or only c. A
// later confirmation makes them listening again.
func (s *Sync) lost(c *Channel) {
	s.gen.Add(1)
	s.listening.Store(false)
	s.mu.Lock()
	wanted := s.wanted
	s.mu.Unlock()
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	for _, w := range wanted {
		if c == nil || w == c {
			w.setState(false)
		}
	}
}

// asyncError handles the errors nats.go reports outside of any call. A
// subscription that dropped messages because its subscribers were too slow
// has a gap: its channel reports not listening, then listening again once
// confirmed, so that caches start afresh.
func (s *Sync) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if !errors.Is(err, nats.ErrSlowConsumer) || sub == nil {
		s.log.Warn("natspubsub: error from the connection", "error", err)
		return
	}
	s.mu.Lock()
	var c *Channel
	for _, w := range s.wanted {
		if w.sub.Load() == sub {
			c = w
		}
	}
	s.mu.Unlock()
	if c == nil {
		return
	}
	dropped, _ := sub.Dropped()
	s.log.Warn("natspubsub: messages dropped by a slow subscriber; not listening until confirmed again",
		"subject", c.subject, "dropped", dropped)
	s.lost(c)
	s.poke()
}

// setState records and reports c's state, if it changed. The caller holds
// sync.stateMu.
func (c *Channel) setState(listening bool) { c.states.Set(listening) }
