package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/internal/chansubs"
)

// MaxInlinePayload is the largest payload, in bytes, that Channel.Publish
// sends inside the NOTIFY itself on PostgreSQL, which refuses NOTIFY
// payloads of 8000 bytes or more (the rest of that room carries the
// sender's id). A bigger payload waits in the table authrpc_sync_payloads
// (after SyncOptions.ChannelPrefix) and the NOTIFY carries its id.
const MaxInlinePayload = 7900

// syncPayloadsTable holds the payloads too big for a NOTIFY, after
// SyncOptions.ChannelPrefix.
const syncPayloadsTable = "authrpc_sync_payloads"

// SyncChannelPrefix is put before a channel's name to make the name of its
// PostgreSQL channel: Channel("auth") sends and listens on authrpc_auth
// (after SyncOptions.ChannelPrefix, if any).
const SyncChannelPrefix = "authrpc_"

// Defaults for SyncOptions.
const (
	defaultMinBackoff      = 100 * time.Millisecond
	defaultMaxBackoff      = 5 * time.Second
	defaultPingInterval    = 5 * time.Second
	defaultApplicationName = "authrpc_sync"
	defaultRetention       = time.Minute

	// connectTimeout bounds one attempt to open the notification connection.
	connectTimeout = 10 * time.Second
)

// originLen is the length of a Sync's id in hex: 64 random bits, so that two
// instances practically never take each other's messages for their own.
const originLen = 16

// SyncOptions configure a Sync. The zero value is usable.
type SyncOptions struct {
	// Logger receives reports about the notification connection: lost (Warn),
	// failed to come back (Warn), back (Info). Default slog.Default().
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the wait between attempts to reopen a
	// lost notification connection: it starts at MinBackoff and doubles up
	// to MaxBackoff, with jitter so that instances do not all come back at
	// the same moment. Defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration

	// After times the waits between those attempts: the channel it returns
	// receives once the wait is over. Tests set it to a fake clock's, to
	// see each wait and end it. Default time.After.
	After func(d time.Duration) <-chan time.Time

	// PingInterval is how long the notification connection may stay silent
	// before the Sync checks it with a round trip (which then has as long
	// to answer). A connection that the network dropped without a word is
	// noticed within about twice this. Default 5 s.
	PingInterval time.Duration

	// ApplicationName is the application_name of the notification
	// connection, which is how it shows in pg_stat_activity. Default
	// "authrpc_sync".
	ApplicationName string

	// ChannelPrefix is put before the PostgreSQL channel names (see
	// CheckTablePrefix for what it may hold): with "app_", Channel("auth")
	// sends and listens on app_authrpc_auth. Give it the TablePrefix of the
	// modules whose caches and events the Sync carries, so that services
	// mounted under different prefixes on one database do not hear each
	// other (an event for user 100 of one would reach user 100 of the
	// other). It prefixes the table of big payloads too. Default "":
	// authrpc_auth.
	ChannelPrefix string

	// PayloadRetention is how long a payload too big for a NOTIFY
	// (over MaxInlinePayload) stays in its table. The other instances read
	// it the moment its NOTIFY reaches them, so this only needs to outlast
	// a slow read. A Sync removes the older ones as part of its own big
	// Publish, at most twice per PayloadRetention. Default 1 minute.
	PayloadRetention time.Duration
}

// Sync carries short messages between the instances of a service that share
// one database, on named channels, so that each can drop what it cached when
// another one changed the data behind it.
//
// On PostgreSQL, Publish sends a NOTIFY through the pool (a payload too big
// for one waits in a table, and the NOTIFY carries its id), and every Sync
// keeps one connection of its own (outside the pool) that LISTENs on the
// channels that have subscribers. Should that connection fail, the Sync
// tells the channels' state subscribers at once that they are no longer
// listening, reopens the connection with exponential back-off, LISTENs
// again, and then tells them they are. Messages sent in between are lost:
// a subscriber that caches should drop its cache and read through while not
// listening, and drop it once more when listening again. A connection that
// stays silent for a PingInterval is checked with a round trip, so that one
// the network dropped without a word is found out too.
//
// On SQLite, which only one process serves, messages go to the subscribers
// of the same Sync only, and the state is always listening. Several
// processes on one SQLite file do not hear each other.
//
// A Sync is safe for concurrent use. Close stops it.
type Sync struct {
	db       *bun.DB
	log      *slog.Logger
	postgres bool
	prefix   string // of PostgreSQL channel names: ChannelPrefix + SyncChannelPrefix
	// origin prefixes what this Sync sends, so that it can tell its own
	// messages when PostgreSQL hands them back.
	origin string

	// The table of big payloads, on PostgreSQL.
	payloads  string // its name
	retention time.Duration
	pruned    atomic.Int64 // when this Sync last removed old payloads, in Unix nanoseconds

	// PostgreSQL only; fixed after NewSync.
	connConfig   *pgx.ConnConfig
	minBackoff   time.Duration
	maxBackoff   time.Duration
	after        func(time.Duration) <-chan time.Time
	pingInterval time.Duration
	stop         context.CancelFunc
	done         chan struct{}

	mu       sync.Mutex
	channels map[string]*Channel // by name
	wanted   []*Channel          // channels to LISTEN on; only grows
	dirty    bool                // wanted grew since the listener last read it
	wake     context.CancelFunc  // interrupts the listener's wait; nil unless it waits
	closed   bool

	// stateMu serialises state callbacks, so that each sees the changes in
	// the order they happened. Never taken while holding mu.
	stateMu sync.Mutex

	listening atomic.Bool
}

// Channel is a named topic of a Sync. Get one with Sync.Channel.
type Channel struct {
	sync   *Sync
	name   string
	pgName string

	subs chansubs.Payloads

	interested bool // under sync.mu: the listener LISTENs on this channel

	states chansubs.States // under sync.stateMu
}

// NewSync starts a Sync on db, which must come from Open (or at least talk
// to PostgreSQL through pgx's database/sql driver, or be SQLite).
//
// On PostgreSQL it opens the notification connection with the settings of
// the pool's connections (so db alone suffices) and fails if it cannot; ctx
// bounds that start. The Sync then runs until Close, whatever becomes of
// ctx. On SQLite it starts nothing.
func NewSync(ctx context.Context, db *bun.DB, opts SyncOptions) (*Sync, error) {
	if db == nil {
		return nil, errors.New("storage: sync: nil db")
	}
	if err := CheckTablePrefix(opts.ChannelPrefix); err != nil {
		return nil, fmt.Errorf("storage: sync: channel prefix: %w", err)
	}
	s := &Sync{
		db:           db,
		log:          opts.Logger,
		postgres:     IsPostgres(db),
		prefix:       opts.ChannelPrefix + SyncChannelPrefix,
		origin:       newOrigin(),
		minBackoff:   opts.MinBackoff,
		maxBackoff:   opts.MaxBackoff,
		after:        opts.After,
		pingInterval: opts.PingInterval,
		channels:     make(map[string]*Channel),
		payloads:     opts.ChannelPrefix + syncPayloadsTable,
		retention:    opts.PayloadRetention,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if !s.postgres {
		s.listening.Store(true)
		return s, nil
	}

	if s.minBackoff <= 0 {
		s.minBackoff = defaultMinBackoff
	}
	if s.maxBackoff <= 0 {
		s.maxBackoff = defaultMaxBackoff
	}
	s.maxBackoff = max(s.maxBackoff, s.minBackoff)
	if s.after == nil {
		s.after = time.After
	}
	if s.pingInterval <= 0 {
		s.pingInterval = defaultPingInterval
	}
	if s.retention <= 0 {
		s.retention = defaultRetention
	}
	appName := opts.ApplicationName
	if appName == "" {
		appName = defaultApplicationName
	}

	cfg, err := listenConfig(ctx, db, appName)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, db, "sync", syncMigrations(opts.ChannelPrefix), WithTablePrefix(opts.ChannelPrefix), WithLogger(s.log)); err != nil {
		return nil, err
	}
	s.connConfig = cfg
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	// Connected, and no channel wanted yet: listening to all of them.
	s.listening.Store(true)

	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.done = make(chan struct{})
	go s.run(runCtx, conn)
	return s, nil
}

// listenConfig borrows a connection from db's pool to copy its settings,
// for a connection of the Sync's own.
func listenConfig(ctx context.Context, db *bun.DB, appName string) (*pgx.ConnConfig, error) {
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: sync: read connection settings: %w", err)
	}
	defer conn.Close()
	var cfg *pgx.ConnConfig
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is a %T, not pgx's (open db with storage.Open)", dc)
		}
		cfg = c.Conn().Config()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: sync: read connection settings: %w", err)
	}
	// The copy carries the pool connection's own notification handler,
	// which would swallow ours; without one, pgx installs a fresh one.
	cfg.OnNotification = nil
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = make(map[string]string)
	}
	cfg.RuntimeParams["application_name"] = appName
	return cfg, nil
}

func newOrigin() string {
	b := make([]byte, originLen/2)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// Listening reports whether messages from other instances reach this Sync
// on every channel subscribed so far: always on SQLite; on PostgreSQL while
// the notification connection is up and LISTENs on all of them, and never
// after Close.
func (s *Sync) Listening() bool { return s.listening.Load() }

// Close stops the Sync and waits until its goroutine is gone. On
// PostgreSQL it closes the notification connection and tells state
// subscribers that their channels are no longer listening. Publish goes on
// working afterwards (it only needs db), but nothing more is received from
// other instances. Close must not be called from a subscriber. It waits
// until ctx ends for the goroutine. Calling it again does nothing.
// Hand it to rpc.Registry.OnShutdown before mounting the modules that use
// its channels, so that it stops after them.
func (s *Sync) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		select {
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("storage: sync: close: %w", ctx.Err())
		}
	}
	return nil
}

// Channel returns the channel of the given name, the same one for the same
// name. A name is 1 to 32 of [a-z0-9_], starting with a letter; Channel
// panics on any other (names are constants in the code that uses them).
func (s *Sync) Channel(name string) *Channel {
	if !chansubs.ValidName(name) {
		panic(fmt.Sprintf("storage: sync: bad channel name %q: want 1 to %d of [a-z0-9_], starting with a letter", name, chansubs.MaxName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channels[name]; c != nil {
		return c
	}
	c := &Channel{
		sync:   s,
		name:   name,
		pgName: s.prefix + name,
		states: chansubs.NewStates(!s.postgres),
	}
	s.channels[name] = c
	return c
}

// Name returns the channel's name, without SyncChannelPrefix (or
// SyncOptions.ChannelPrefix).
func (c *Channel) Name() string { return c.name }

// Publish sends payload to the channel's subscribers in every instance.
//
// Those of this instance get it first, synchronously, before Publish
// returns, so this instance is never behind the others, even when sending
// to them fails. On PostgreSQL, Publish then sends a NOTIFY through db (not
// in any transaction: publish after the change commits); it is delivered to
// the other instances that listen, and not back to this one. A payload of
// more than MaxInlinePayload bytes is stored in a table in the same
// statement, and the NOTIFY carries its id; the other instances read it
// from there (see SyncOptions.PayloadRetention).
//
// payload is text of any size (PostgreSQL's text holds up to 1 GB): valid
// UTF-8 without NUL bytes, which PostgreSQL refuses; Publish refuses it
// too, on both databases, and then delivers it to nobody.
func (c *Channel) Publish(ctx context.Context, payload string) error {
	if err := checkPayload(payload); err != nil {
		return fmt.Errorf("storage: sync: publish on %s: %w", c.name, err)
	}
	c.deliver(payload)
	if !c.sync.postgres {
		return nil
	}
	var err error
	if len(payload) <= MaxInlinePayload {
		// Bound parameters, not bun's formatting: the payload is arbitrary text.
		_, err = c.sync.db.DB.ExecContext(ctx, "SELECT pg_notify($1, $2)", c.pgName, c.sync.origin+":"+payload)
	} else {
		err = c.sync.publishStored(ctx, c, payload)
	}
	if err != nil {
		return fmt.Errorf("storage: sync: publish on %s: %w", c.name, err)
	}
	return nil
}

// publishStored stores payload and notifies its id, in one statement, so
// that the row is there when the NOTIFY arrives (both take effect at
// commit). Now and then the same statement removes the payloads older
// than the retention; never the new one, whose created_at is the
// statement's now().
func (s *Sync) publishStored(ctx context.Context, c *Channel, payload string) error {
	query := "WITH p AS (INSERT INTO " + s.payloads + " (payload) VALUES ($1) RETURNING id)"
	args := []any{payload, c.pgName, s.origin + "#"}
	now := time.Now().UnixNano()
	if last := s.pruned.Load(); now-last >= int64(s.retention/2) && s.pruned.CompareAndSwap(last, now) {
		query += ", old AS (DELETE FROM " + s.payloads + " WHERE created_at < now() - make_interval(secs => $4))"
		args = append(args, s.retention.Seconds())
	}
	_, err := s.db.DB.ExecContext(ctx, query+" SELECT pg_notify($2, $3 || p.id) FROM p", args...)
	return err
}

// fetchStored reads a payload that publishStored stored.
func (s *Sync) fetchStored(ctx context.Context, id int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.pingInterval)
	defer cancel()
	var payload string
	err := s.db.DB.QueryRowContext(ctx, "SELECT payload FROM "+s.payloads+" WHERE id = $1", id).Scan(&payload)
	return payload, err
}

// syncMigrations create, on PostgreSQL, the table of payloads too big for
// a NOTIFY. It is UNLOGGED: its rows live for seconds, and losing them in
// a crash loses nothing that a restart would not.
func syncMigrations(prefix string) []Migration {
	return []Migration{{
		Version: 1,
		Name:    "create sync payloads",
		Up: SQL(Prefixed(prefix, `
CREATE UNLOGGED TABLE {prefix}authrpc_sync_payloads (
	id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	payload    TEXT        NOT NULL,
	created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX {prefix}authrpc_sync_payloads_created_idx ON {prefix}authrpc_sync_payloads (created_at)`), ""),
	}}
}

func checkPayload(payload string) error {
	switch {
	case strings.IndexByte(payload, 0) >= 0:
		return errors.New("payload contains a NUL byte")
	case !utf8.ValidString(payload):
		return errors.New("payload is not valid UTF-8")
	}
	return nil
}

// Subscribe calls fn with every payload published on the channel: by this
// instance (synchronously, inside its Publish) and by the others (from the
// Sync's goroutine, in the order PostgreSQL delivers them). fn may thus run
// concurrently with itself, must be quick, and should be idempotent. It
// must not call Close. On PostgreSQL the first Subscribe or OnState of a
// channel makes the Sync LISTEN on it.
//
// A NOTIFY on the channel's PostgreSQL channel that did not come from a
// Sync is delivered with its payload as it is, so that an operator can
// send one by hand (SELECT pg_notify('authrpc_auth', '*'), with
// SyncOptions.ChannelPrefix before authrpc_ if one is set).
func (c *Channel) Subscribe(fn func(payload string)) {
	if fn == nil {
		panic("storage: sync: Subscribe: nil func")
	}
	c.subs.Add(fn)
	c.sync.want(c)
}

// OnState calls fn with whether the channel is listening, that is whether
// messages from other instances reach its subscribers: at once, before
// OnState returns, and then at every change, in order. On SQLite it is
// always true. On PostgreSQL it turns true once the notification
// connection LISTENs on the channel, false the moment that connection is
// found broken and at Close, and true again after a reconnect.
//
// fn runs with the Sync's state lock held: it must be quick and must not
// call OnState.
func (c *Channel) OnState(fn func(listening bool)) {
	if fn == nil {
		panic("storage: sync: OnState: nil func")
	}
	s := c.sync
	s.stateMu.Lock()
	c.states.Add(fn)
	s.stateMu.Unlock()
	// LISTEN only now, so that a new channel's first report is always
	// false and fn sees it come up.
	s.want(c)
}

// want makes the listener LISTEN on c, if it does not already.
func (s *Sync) want(c *Channel) {
	if !s.postgres {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.interested {
		return
	}
	c.interested = true
	s.wanted = append(s.wanted, c)
	if s.closed {
		return
	}
	s.dirty = true
	s.listening.Store(false)
	if s.wake != nil {
		s.wake()
	}
}

func (c *Channel) deliver(payload string) { c.subs.Deliver(payload) }

// setState records and reports c's state, if it changed.
func (s *Sync) setState(c *Channel, listening bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	c.states.Set(listening)
}

// down reports every channel not listening.
func (s *Sync) down() {
	s.mu.Lock()
	s.listening.Store(false)
	wanted := s.wanted
	s.mu.Unlock()
	for _, c := range wanted {
		s.setState(c, false)
	}
}

// run owns the notification connection: it listens on conn until that
// fails, then opens another, until ctx is done.
func (s *Sync) run(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	defer s.down()
	delay := s.minBackoff
	for {
		if conn != nil {
			start := time.Now()
			err := s.listen(ctx, conn)
			s.down()
			closeConn(conn)
			conn = nil
			if ctx.Err() != nil {
				return
			}
			// A connection that lasted is not flapping: start over with short waits.
			if time.Since(start) >= s.maxBackoff {
				delay = s.minBackoff
			}
			s.log.Warn("storage: sync: notification connection lost; not listening until it is back",
				"error", err, "retry_in", delay)
		}

		// Wait between half and all of delay: jitter keeps instances that
		// lost the server together from returning together.
		wait := delay/2 + mathrand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return
		case <-s.after(wait):
		}
		delay = min(2*delay, s.maxBackoff)

		c, err := s.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("storage: sync: reopening the notification connection failed", "error", err, "retry_in", delay)
			continue
		}
		s.log.Info("storage: sync: notification connection back")
		conn = c
	}
}

func (s *Sync) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.connConfig)
	if err != nil {
		return nil, fmt.Errorf("storage: sync: connect: %w", redact(err, []string{s.connConfig.Password}))
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx) // it is broken or unwanted; closing is all we can do
}

// listen LISTENs on the wanted channels and delivers what arrives, until
// conn fails (the error says how) or ctx is done.
func (s *Sync) listen(ctx context.Context, conn *pgx.Conn) error {
	listened := make(map[*Channel]bool)
	for {
		s.mu.Lock()
		wanted := s.wanted
		s.dirty = false
		s.mu.Unlock()

		var added []*Channel
		for _, c := range wanted {
			if listened[c] {
				continue
			}
			if err := s.exec(ctx, conn, "LISTEN "+pgx.Identifier{c.pgName}.Sanitize()); err != nil {
				return fmt.Errorf("storage: sync: listen on %s: %w", c.name, err)
			}
			listened[c] = true
			added = append(added, c)
		}

		waitCtx, cancel := context.WithTimeout(ctx, s.pingInterval)
		s.mu.Lock()
		dirty := s.dirty
		if !dirty {
			s.listening.Store(true)
			s.wake = cancel
		}
		s.mu.Unlock()
		// Reported after Listening turned true, so that a subscriber that
		// is told its channel is up finds the Sync up too.
		for _, c := range added {
			s.setState(c, true)
		}
		if dirty {
			// A channel was wanted meanwhile: LISTEN on it first.
			cancel()
			continue
		}

		n, err := conn.WaitForNotification(waitCtx)

		s.mu.Lock()
		s.wake = nil
		s.mu.Unlock()
		waitErr := waitCtx.Err() // why the wait ended, if not for a notification
		cancel()

		if n != nil {
			s.dispatch(ctx, n)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case conn.IsClosed():
			return fmt.Errorf("storage: sync: wait: %w", err)
		case errors.Is(waitErr, context.DeadlineExceeded):
			// Silence: make sure it is not a dead connection's.
			if err := s.exec(ctx, conn, ""); err != nil {
				return fmt.Errorf("storage: sync: ping: %w", err)
			}
		case errors.Is(waitErr, context.Canceled):
			// Woken up by want; the connection is fine.
		default:
			return fmt.Errorf("storage: sync: wait: %w", err)
		}
	}
}

// exec runs a statement on the notification connection, or pings it when
// sql is empty, taking no longer than a ping interval.
func (s *Sync) exec(ctx context.Context, conn *pgx.Conn, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, s.pingInterval)
	defer cancel()
	if sql == "" {
		return conn.Ping(ctx)
	}
	_, err := conn.Exec(ctx, sql)
	return err
}

// dispatch hands a notification to its channel's subscribers, unless this
// Sync sent it (Publish has delivered it already). A stored payload is read
// from its table first; one that cannot be read is a gap, which the
// channel reports as a moment of not listening, so that caches start
// afresh.
func (s *Sync) dispatch(ctx context.Context, n *pgconn.Notification) {
	name, ok := strings.CutPrefix(n.Channel, s.prefix)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.channels[name]
	s.mu.Unlock()
	if c == nil {
		return
	}
	origin, payload, stored := splitOrigin(n.Payload)
	if origin == s.origin {
		return
	}
	if stored != 0 {
		var err error
		if payload, err = s.fetchStored(ctx, stored); err != nil {
			if ctx.Err() != nil {
				return // closing
			}
			s.log.Warn("storage: sync: a payload too big for a NOTIFY could not be read; the channel's subscribers may have missed it",
				"channel", c.name, "id", stored, "error", err)
			s.setState(c, false)
			s.setState(c, true)
			return
		}
	}
	c.deliver(payload)
}

// splitOrigin splits what a Sync sent into the sender's id and either the
// published payload ("<origin>:<payload>") or the id of the row that holds
// it ("<origin>#<id>"). Anything else was not sent by a Sync: its origin is
// "" and its payload the whole text.
func splitOrigin(wire string) (origin, payload string, stored int64) {
	if len(wire) <= originLen || (wire[originLen] != ':' && wire[originLen] != '#') {
		return "", wire, 0
	}
	for _, r := range wire[:originLen] {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return "", wire, 0
		}
	}
	origin, rest := wire[:originLen], wire[originLen+1:]
	if wire[originLen] == ':' {
		return origin, rest, 0
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return "", wire, 0
	}
	return origin, "", id
}
