package natspubsub_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
)

var _ pubsub.Channel = (*natspubsub.Channel)(nil)

func TestNames(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	s := connect(t, srv.URL(), natspubsub.Options{})
	for _, name := range []string{"a", "auth", "settings_v2", strings.Repeat("x", 32)} {
		c := s.Channel(name)
		assert.Equal(t, name, c.Name())
		assert.Equal(t, natspubsub.DefaultPrefix+name, c.Subject())
		assert.Same(t, c, s.Channel(name), "one channel per name")
	}
	for _, name := range []string{"", "Auth", "1auth", "_auth", "au th", "auth-x", "auth.x", "auth*", "auth>", strings.Repeat("x", 33)} {
		assert.Panics(t, func() { s.Channel(name) }, "name %q", name)
	}
	assert.Panics(t, func() { s.Channel("a").Subscribe(nil) })
	assert.Panics(t, func() { s.Channel("a").OnState(nil) })

	p := connect(t, srv.URL(), natspubsub.Options{Prefix: "shop-1.authrpc_v2."})
	assert.Equal(t, "shop-1.authrpc_v2.auth", p.Channel("auth").Subject())
	for _, bad := range []string{"authrpc", ".authrpc.", "a..b.", "a b.", "a*.", "a>.", "é."} {
		_, err := natspubsub.Connect(t.Context(), srv.URL(), natspubsub.Options{Prefix: bad})
		assert.ErrorContains(t, err, "natspubsub: prefix", "prefix %q", bad)
	}
}

// TestPropagation, on the machine's server: what one instance publishes
// reaches the others, intact, on its own channel only,
// not back to itself a second time, and not to a service under another
// prefix.
func TestPropagation(t *testing.T) {
	t.Parallel()
	url := natstest.URL(t)
	prefix := testPrefix()
	a := connect(t, url, natspubsub.Options{Prefix: prefix})
	b := connect(t, url, natspubsub.Options{Prefix: prefix})
	other := connect(t, url, natspubsub.Options{Prefix: testPrefix()})

	aAuth := subscribe(a.Channel("auth"))
	bAuth := subscribe(b.Channel("auth"))
	bSettings := subscribe(b.Channel("settings"))
	otherAuth := subscribe(other.Channel("auth"))
	for _, s := range []*natspubsub.Sync{a, b, other} {
		for _, c := range []*natspubsub.Channel{s.Channel("auth"), s.Channel("settings")} {
			watch(c).until(t, true, 5*time.Second)
		}
		assert.True(t, s.Listening())
	}

	for i := range 20 {
		payload := fmt.Sprintf("u:%d", i)
		start := time.Now()
		require.NoError(t, a.Channel("auth").Publish(t.Context(), payload))
		select { // the publisher's own subscribers have it before Publish returns
		case m := <-aAuth.ch:
			assert.Equal(t, payload, m)
		default:
			t.Fatal("local delivery was not synchronous")
		}
		assert.Equal(t, payload, bAuth.next(t, eventWait))
		if i == 0 {
			t.Logf("first message reached b after %v", time.Since(start))
		}
	}
	for _, payload := range []string{"", `it's "quoted" \ and $1 ?`, "ünïcødé ✓", "nul\x00byte", strings.Repeat("y", 64<<10)} {
		require.NoError(t, a.Channel("settings").Publish(t.Context(), payload))
		assert.Equal(t, payload, bSettings.next(t, eventWait))
	}

	// Both ways; a's own messages never came back to it (it got b's, sent
	// after them, and nothing before).
	require.NoError(t, b.Channel("auth").Publish(t.Context(), "from b"))
	assert.Equal(t, "from b", bAuth.next(t, 0))
	assert.Equal(t, "from b", aAuth.next(t, eventWait))
	assert.Empty(t, aAuth.ch)
	assert.Empty(t, bSettings.ch)
	assert.Empty(t, otherAuth.ch, "another prefix hears nothing")

	// An operator's message, not sent by a Sync, arrives as it is.
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.Publish(prefix+"auth", []byte("*")))
	require.NoError(t, nc.Flush())
	assert.Equal(t, "*", bAuth.next(t, eventWait))
	assert.Equal(t, "*", aAuth.next(t, eventWait))
}

// TestMaxPayload: up to the server's max_payload a payload goes as one
// message; past it, where it cannot go in chunks (a server without
// headers, or a max_payload that leaves too little room a chunk), Publish
// says so and delivers to nobody.
func TestMaxPayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts natstest.Options
		want string
	}{
		{natstest.Options{MaxPayload: 4096, NoHeaders: true}, "payload of 4097 bytes exceeds the server's max_payload of 4096, and the server takes no headers"},
		{natstest.Options{MaxPayload: 560}, "payload of 4097 bytes: the server's max_payload of 560 leaves less than 512 bytes a chunk"},
	} {
		srv := natstest.Start(t, tc.opts)
		a := connect(t, srv.URL(), natspubsub.Options{})
		b := connect(t, srv.URL(), natspubsub.Options{})
		local, remote := subscribe(a.Channel("events")), subscribe(b.Channel("events"))
		watch(b.Channel("events")).until(t, true, 5*time.Second)

		err := a.Channel("events").Publish(t.Context(), strings.Repeat("x", 4097))
		require.ErrorIs(t, err, nats.ErrMaxPayload)
		assert.ErrorContains(t, err, "natspubsub: publish on events: "+tc.want)
		assert.Empty(t, local.ch, "a refused payload goes nowhere")

		full := strings.Repeat("z", int(tc.opts.MaxPayload))
		require.NoError(t, a.Channel("events").Publish(t.Context(), full))
		assert.Equal(t, full, local.next(t, 0))
		assert.Equal(t, full, remote.next(t, eventWait))
		assert.Empty(t, remote.ch)
	}
}

// TestServerRestart: the server goes away and comes back on the same
// port. The channels say they are not listening while it is away, and
// listen again once they have subscribed anew; messages flow again.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	opts := natspubsub.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	a := connect(t, srv.URL(), opts)
	b := connect(t, srv.URL(), opts)
	in := subscribe(b.Channel("auth"))
	st := watch(b.Channel("auth"))
	st.until(t, true, 5*time.Second)

	for round := range 3 {
		srv.Stop()
		require.False(t, st.next(t, 5*time.Second), "round %d: not listening once the server is gone", round)
		assert.False(t, b.Listening())
		srv.Start()
		start := time.Now()
		require.True(t, st.next(t, 10*time.Second), "round %d: listening again", round)
		t.Logf("round %d: listening again %v after the server came back", round, time.Since(start))
		assert.True(t, b.Listening())

		// a may not be back yet; what it publishes meanwhile waits in its
		// buffer and goes out once it is.
		payload := fmt.Sprint("after restart ", round)
		require.NoError(t, a.Channel("auth").Publish(t.Context(), payload))
		assert.Equal(t, payload, in.next(t, 10*time.Second))
	}
	assert.Empty(t, in.ch)
}

// TestPartition: a network that drops the connection without a word is
// found out by the pings; the channel says so, reconnects once the network
// is back, and listens again. What was published meanwhile is lost, which
// is why the state went false.
func TestPartition(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	p := tcpproxy.New(t, srv.Addr())
	a := connect(t, srv.URL(), natspubsub.Options{})
	b := connect(t, "nats://"+p.Addr(), natspubsub.Options{
		PingInterval: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	in := subscribe(b.Channel("auth"))
	st := watch(b.Channel("auth"))
	st.until(t, true, 5*time.Second)

	p.BlackHole()
	start := time.Now()
	require.NoError(t, a.Channel("auth").Publish(t.Context(), "lost"))
	require.False(t, st.next(t, 5*time.Second))
	t.Logf("silent connection found out after %v (ping interval 100ms)", time.Since(start))

	p.Restore()
	require.True(t, st.next(t, 10*time.Second))
	require.NoError(t, a.Channel("auth").Publish(t.Context(), "through"))
	got := in.next(t, eventWait)
	if got == "lost" { // the proxy let the held bytes through before the old connection closed
		got = in.next(t, eventWait)
	}
	assert.Equal(t, "through", got)
}

// TestSlowSubscriber: a channel whose subscriber does not keep up drops
// messages past MaxPending; it says so (a gap), and listens again once it
// has caught up.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	a := connect(t, srv.URL(), natspubsub.Options{})
	b := connect(t, srv.URL(), natspubsub.Options{MaxPending: 5})
	release := make(chan struct{})
	got := make(chan string, 100)
	b.Channel("events").Subscribe(func(p string) {
		<-release
		got <- p
	})
	st := watch(b.Channel("events"))
	st.until(t, true, 5*time.Second)

	for i := range 20 {
		require.NoError(t, a.Channel("events").Publish(t.Context(), fmt.Sprint(i)))
	}
	require.False(t, st.next(t, 5*time.Second), "a gap is reported")
	close(release)
	require.True(t, st.next(t, 5*time.Second), "and then listening again")
	assert.Less(t, len(got), 20)
}

// TestConnectFails: a server that does not answer fails Connect within its
// bound, or when ctx ends.
func TestConnectFails(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	url := srv.URL()
	srv.Stop()

	clock := fakeclock.New()
	errc := make(chan error, 1)
	go func() {
		_, err := natspubsub.Connect(t.Context(), url, natspubsub.Options{ConnectTimeout: 200 * time.Millisecond, After: clock.After, Logger: testLogger(t)})
		errc <- err
	}()
	assert.Equal(t, 200*time.Millisecond, clock.Next(t), "Connect waits ConnectTimeout")
	select {
	case err := <-errc:
		assert.ErrorContains(t, err, "natspubsub: connect: no server answered within 200ms")
	case <-time.After(eventWait):
		t.Fatal("Connect still waits after its timeout")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := natspubsub.Connect(ctx, url, natspubsub.Options{Logger: testLogger(t)})
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	_, err = natspubsub.Connect(t.Context(), "http://[::1", natspubsub.Options{Logger: testLogger(t)})
	assert.ErrorContains(t, err, "natspubsub: connect:")
}

// TestClose: Close reports not listening, leaves Publish delivering here
// (and failing for the others), and leaks no goroutine.
func TestClose(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{})
	other := connect(t, srv.URL(), natspubsub.Options{})
	otherIn := subscribe(other.Channel("auth"))
	watch(other.Channel("auth")).until(t, true, 5*time.Second)

	baseline := runtime.NumGoroutine()
	for range 3 {
		s, err := natspubsub.Connect(t.Context(), srv.URL(), natspubsub.Options{Logger: testLogger(t)})
		require.NoError(t, err)
		c := s.Channel("auth")
		in := subscribe(c)
		st := watch(c)
		st.until(t, true, 5*time.Second)
		require.NoError(t, c.Publish(t.Context(), "x"))
		assert.Equal(t, "x", in.next(t, 0))
		assert.Equal(t, "x", otherIn.next(t, eventWait))

		require.NoError(t, s.Close(context.Background()))
		assert.False(t, st.next(t, 0), "reported before Close returned")
		assert.False(t, s.Listening())
		require.NoError(t, s.Close(context.Background()))

		err = c.Publish(t.Context(), "y")
		assert.True(t, errors.Is(err, nats.ErrConnectionClosed), "%v", err)
		assert.Equal(t, "y", in.next(t, 0), "still delivered here")
	}
	assert.Empty(t, otherIn.ch)
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > baseline; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, was %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
	}
}
