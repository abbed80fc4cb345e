package sockets

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// Environment of BenchmarkInstances.
const (
	instSocketsEnv = "SOCKBENCH_INSTANCE_SOCKETS" // sockets per instance (default 300)
	instEventsEnv  = "SOCKBENCH_INSTANCE_EVENTS"  // events and signouts measured (default 50 each)
)

// BenchmarkInstances runs three instances of a service, each a registry
// serving real sockets, sharing auth and events over one channel: on
// PostgreSQL (a storage.Sync each on the database of TEST_POSTGRES_DSN)
// and on NATS (a natspubsub.Sync each on TEST_NATS_URL, default the
// machine's server), side by side in one run. SOCKBENCH_INSTANCE_SOCKETS
// (300) sockets are open on each, each signed in as a user of its own.
// It reports:
//
//   - event-ms-p50, event-ms-p99: an event published on one instance (each
//     in turn) to every signed-in socket, the time until the last socket
//     of all three instances had it, over SOCKBENCH_INSTANCE_EVENTS (50);
//   - signout-ms-p50, signout-ms-p99: a user signed in on the two other
//     instances is signed out on one (the host's invalidation), the time
//     until both sockets are closed (4000), over as many users;
//   - 64KB-ms-max, 2MB-ms-max: events of 64 KB (past PostgreSQL's NOTIFY
//     limit) and 2 MB (past NATS's default max_payload), five each, the
//     longest time until every socket had it whole.
//
// The authenticator is the host's own over a table in memory, the same for
// the three, so what is measured is the channel's part. The load average
// at the start is logged.
//
//	cd bench/sockets
//	TEST_POSTGRES_DSN=… go test -run '^$' -bench Instances -benchtime 1x -timeout 20m .
func BenchmarkInstances(b *testing.B) {
	perInstance, rounds := envInt(instSocketsEnv, 300), envInt(instEventsEnv, 50)
	b.Logf("load average at the start: %s", loadavg())
	for _, channel := range []string{"postgres", "nats"} {
		b.Run(channel, func(b *testing.B) {
			for b.Loop() {
				instances(b, channel, perInstance, rounds)
			}
			b.Logf("%s: load average at the end: %s", channel, loadavg())
		})
	}
}

// loadavg is /proc/loadavg's first three figures, or "?".
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// channels opens the auth and events channels of one instance.
type channels func(b *testing.B) (authCh, eventsCh pubsub.Channel)

func channelsOf(b *testing.B, name string) channels {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch name {
	case "postgres":
		dsn := os.Getenv(storagetest.EnvPostgresDSN)
		if dsn == "" {
			b.Skipf("%s not set: the PostgreSQL channel is not measured", storagetest.EnvPostgresDSN)
		}
		return func(b *testing.B) (pubsub.Channel, pubsub.Channel) {
			db, err := storage.Open(b.Context(), dsn, storage.WithMaxOpenConns(8))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			s, err := storage.NewSync(b.Context(), db, storage.SyncOptions{Logger: logger})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close(context.Background()) })
			return s.Channel("auth"), s.Channel("events")
		}
	default:
		url := natstest.URL(b) // skips, saying why, without a server
		prefix := fmt.Sprintf("bench%d.authrpc.", time.Now().UnixNano())
		return func(b *testing.B) (pubsub.Channel, pubsub.Channel) {
			s, err := natspubsub.Connect(b.Context(), url, natspubsub.Options{Prefix: prefix, Logger: logger})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close(context.Background()) })
			return s.Channel("auth"), s.Channel("events")
		}
	}
}

// sessionTable is the host's session table the three instances read.
type sessionTable struct {
	mu     sync.Mutex
	byHash map[string]auth.Principal
}

func (st *sessionTable) signin(b *testing.B, userID int64) string {
	plain, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		b.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.byHash[string(digest)] = auth.Principal{UserID: userID, Username: fmt.Sprint("user", userID), Kind: auth.KindSession, TokenID: userID}
	return plain
}

func (st *sessionTable) signout(userID int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, p := range st.byHash {
		if p.UserID == userID {
			delete(st.byHash, k)
		}
	}
}

func (st *sessionTable) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	p, ok := st.byHash[string(auth.Digest(token))]
	if !ok {
		return nil, auth.ErrUnknownToken
	}
	return &p, nil
}

// benchInstance is one copy of the service.
type benchInstance struct {
	reg  *rpc.Registry
	addr string
}

func startInstances(b *testing.B, open channels, st *sessionTable, n, maxSockets int) []benchInstance {
	var out []benchInstance
	for range n {
		authCh, eventsCh := open(b)
		reg := rpc.New(rpc.Options{
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			WebSocket: rpc.WebSocketOptions{MaxSockets: maxSockets, MaxSocketsPerAddr: maxSockets, PingInterval: time.Hour},
		})
		reg.Auth().Handle(auth.KindSession, st)
		reg.Auth().Share(authCh)
		reg.ShareEvents(eventsCh)
		waitListening(b, authCh)
		waitListening(b, eventsCh)
		srv := httptest.NewServer(reg)
		b.Cleanup(func() {
			srv.Close()
			_ = reg.Shutdown(context.Background())
		})
		out = append(out, benchInstance{reg: reg, addr: srv.Listener.Addr().String()})
	}
	return out
}

func waitListening(b *testing.B, ch pubsub.Channel) {
	up := make(chan struct{})
	var once sync.Once
	ch.OnState(func(l bool) {
		if l {
			once.Do(func() { close(up) })
		}
	})
	select {
	case <-up:
	case <-time.After(30 * time.Second):
		b.Fatal("channel not listening within 30 s")
	}
}

// benchSocket is a signed-in socket read by a goroutine of its own, which
// counts the events it gets into the round under way.
type benchSocket struct {
	c      *Client
	closed chan uint16 // the close code, once
}

// round is one event or signout under way: the sockets still to get it,
// and when it started.
type round struct {
	mu      sync.Mutex
	left    int
	start   time.Time
	longest time.Duration
	done    chan struct{}
	bad     atomic.Int64
}

func newRound(n int) *round { return &round{left: n, start: time.Now(), done: make(chan struct{})} }

func (r *round) arrived() {
	took := time.Since(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.longest = max(r.longest, took)
	if r.left--; r.left == 0 {
		close(r.done)
	}
}

func (r *round) wait(b *testing.B, what string) time.Duration {
	select {
	case <-r.done:
	case <-time.After(60 * time.Second):
		r.mu.Lock()
		left := r.left
		r.mu.Unlock()
		b.Fatalf("%s: %d sockets still waiting after 60 s", what, left)
	}
	if n := r.bad.Load(); n > 0 {
		b.Fatalf("%s: %d sockets got it broken", what, n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.longest
}

// current is the round the sockets count into.
type current struct{ p atomic.Pointer[round] }

func dialSocket(b *testing.B, addr, token string, cur *current, wantSize *atomic.Int64) *benchSocket {
	c, err := DialProtocols(addr, Subprotocol, token)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	s := &benchSocket{c: c, closed: make(chan uint16, 1)}
	// The socket has joined its groups once it answers a ping.
	if err := c.WriteText([]byte(`{"jsonrpc":"2.0","method":"/ping","id":1}`)); err != nil {
		b.Fatal(err)
	}
	if msg, err := c.Next(); err != nil || !strings.Contains(string(msg), `"/pong"`) {
		b.Fatalf("no pong: %q %v", msg, err)
	}
	go func() {
		for {
			op, n, p, err := c.FrameLen()
			if err != nil {
				s.closed <- 0
				return
			}
			switch op {
			case 8:
				code := uint16(0)
				if len(p) >= 2 {
					code = binary.BigEndian.Uint16(p)
				}
				s.closed <- code
				return
			case 9:
				_ = c.Pong(p)
			case 1, 2:
				if r := cur.p.Load(); r != nil {
					if n < wantSize.Load() {
						r.bad.Add(1)
					}
					r.arrived()
				}
			}
		}
	}()
	return s
}

func instances(b *testing.B, channel string, perInstance, rounds int) {
	open := channelsOf(b, channel)
	st := &sessionTable{byHash: make(map[string]auth.Principal)}
	ins := startInstances(b, open, st, 3, perInstance+rounds*2+10)
	var cur current
	var wantSize atomic.Int64

	// The audience: perInstance sockets on each instance, a user each.
	total := 0
	for i, in := range ins {
		for k := range perInstance {
			user := int64(1_000_000 + i*perInstance + k)
			dialSocket(b, in.addr, st.signin(b, user), &cur, &wantSize)
			total++
		}
	}
	// The signed-out: user u has a socket on each instance but the one
	// that signs it out.
	type victim struct {
		user    int64
		from    int
		sockets []*benchSocket
	}
	victims := make([]victim, rounds)
	for r := range victims {
		v := victim{user: int64(r + 1), from: r % 3}
		for i, in := range ins {
			if i != v.from {
				v.sockets = append(v.sockets, dialSocket(b, in.addr, st.signin(b, v.user), &cur, &wantSize))
			}
		}
		victims[r] = v
	}
	// From here on the victims' sockets count events too.
	total += rounds * 2
	b.Logf("%s: %d sockets on 3 instances; load average %s", channel, total, loadavg())

	event := func(from, size int, what string) time.Duration {
		r := newRound(total)
		wantSize.Store(int64(size))
		cur.p.Store(r)
		var err error
		if size == 0 {
			err = ins[from].reg.Publish(b.Context(), "tick", []string{rpc.GroupUser}, r.start.UnixNano())
		} else {
			err = ins[from].reg.Publish(b.Context(), "big", []string{rpc.GroupUser}, strings.Repeat("x", size))
		}
		if err != nil {
			b.Fatal(err)
		}
		took := r.wait(b, what)
		cur.p.Store(nil)
		return took
	}

	var lat []time.Duration
	for i := range rounds {
		lat = append(lat, event(i%3, 0, "event"))
	}
	b.ReportMetric(pct(lat, 50), "event-ms-p50")
	b.ReportMetric(pct(lat, 99), "event-ms-p99")

	for _, size := range []int{64 << 10, 2 << 20} {
		var longest time.Duration
		for i := range 5 {
			longest = max(longest, event(i%3, size, strconv.Itoa(size)+" bytes"))
		}
		name := map[int]string{64 << 10: "64KB", 2 << 20: "2MB"}[size]
		b.ReportMetric(float64(longest.Microseconds())/1000, name+"-ms-max")
	}

	lat = lat[:0]
	for _, v := range victims {
		start := time.Now()
		st.signout(v.user)
		ins[v.from].reg.Auth().Invalidate(auth.Invalidation{UserID: v.user})
		for _, s := range v.sockets {
			select {
			case code := <-s.closed:
				if code != 4000 {
					b.Fatalf("user %d: socket closed with %d, want 4000", v.user, code)
				}
			case <-time.After(60 * time.Second):
				b.Fatalf("user %d: socket still open 60 s after the signout", v.user)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(pct(lat, 50), "signout-ms-p50")
	b.ReportMetric(pct(lat, 99), "signout-ms-p99")
	runtime.GC()
}

// pct is the p-th percentile of ds in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return float64(ds[(len(ds)-1)*p/100].Microseconds()) / 1000
}
