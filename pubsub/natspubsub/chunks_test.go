package natspubsub_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
)

// smallPayload is the in-process server's max_payload in these tests, so
// that a few kilobytes already travel in chunks.
const smallPayload = 4096

// bigPayload is n bytes that tell where each part came from: a payload put
// back in the wrong order, or missing a piece, does not compare equal.
func bigPayload(tag string, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s:%08d;", tag, i)
	}
	return b.String()[:n]
}

// TestBigPayload: payloads past the server's max_payload, five times it
// and at the edges of a chunk, arrive whole on another connection, in the
// order published, among whole messages; nothing stays held.
func TestBigPayload(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{MaxPayload: smallPayload})
	a := connect(t, srv.URL(), natspubsub.Options{})
	b := connect(t, srv.URL(), natspubsub.Options{})
	local, remote := subscribe(a.Channel("events")), subscribe(b.Channel("events"))
	watch(b.Channel("events")).until(t, true, 5*time.Second)
	require.Equal(t, int64(smallPayload), a.Conn().MaxPayload())

	sizes := []int{5 * smallPayload, smallPayload, smallPayload + 1, 2*smallPayload - 100, 3 * smallPayload, 1 << 20, 0}
	for i, n := range sizes {
		p := bigPayload(fmt.Sprint("p", i), n)
		require.NoError(t, a.Channel("events").Publish(t.Context(), p), "%d bytes", n)
		require.NoError(t, a.Channel("events").Publish(t.Context(), fmt.Sprint("small after ", i)))
		assert.Equal(t, p, local.next(t, 0), "delivered here at once")
		assert.Equal(t, fmt.Sprint("small after ", i), local.next(t, 0))
		got := remote.next(t, eventWait)
		require.Equal(t, len(p), len(got), "payload %d", i)
		require.True(t, p == got, "payload %d of %d bytes arrives whole", i, n)
		assert.Equal(t, fmt.Sprint("small after ", i), remote.next(t, eventWait), "in the order published")
	}
	assert.Empty(t, remote.ch)
	payloads, bytes := b.Assembling()
	assert.Zero(t, payloads)
	assert.Zero(t, bytes)
}

// TestBigPayloadsInterleaved: two publishers sending big payloads at once,
// from several goroutines each, their chunks mixed on the subject: every
// payload arrives whole, once.
func TestBigPayloadsInterleaved(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{MaxPayload: smallPayload})
	pubs := []*natspubsub.Sync{connect(t, srv.URL(), natspubsub.Options{}), connect(t, srv.URL(), natspubsub.Options{})}
	b := connect(t, srv.URL(), natspubsub.Options{})
	remote := subscribe(b.Channel("events"))
	watch(b.Channel("events")).until(t, true, 5*time.Second)

	const perGoroutine, goroutines = 10, 3
	want := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for pi, s := range pubs {
		for g := range goroutines {
			wg.Go(func() {
				for i := range perGoroutine {
					p := bigPayload(fmt.Sprintf("pub%d-g%d-%d", pi, g, i), (3+i%4)*smallPayload+i*37)
					mu.Lock()
					want[p] = true
					mu.Unlock()
					if err := s.Channel("events").Publish(t.Context(), p); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	for range len(pubs) * goroutines * perGoroutine {
		got := remote.next(t, eventWait)
		require.True(t, want[got], "a payload that was published, whole, once (%d bytes: %.40q…)", len(got), got)
		delete(want, got)
	}
	assert.Empty(t, want)
	payloads, _ := b.Assembling()
	assert.Zero(t, payloads)
}

// handPublisher sends chunks as a Sync would, or would not, on a
// subject: a publisher that fails half-way, loses chunks or lies.
type handPublisher struct {
	t  *testing.T
	nc *nats.Conn
}

func newHandPublisher(t *testing.T, url string) handPublisher {
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return handPublisher{t, nc}
}

func (h handPublisher) chunk(header string, data string) {
	h.t.Helper()
	m := &nats.Msg{Subject: natspubsub.DefaultPrefix + "events", Header: nats.Header{natspubsub.ChunkHeader: {header}}, Data: []byte(data)}
	require.NoError(h.t, h.nc.PublishMsg(m))
	require.NoError(h.t, h.nc.Flush())
}

// TestLostChunk: a payload whose chunks stop coming, or skip one, or
// disagree, is never delivered, not even in part; what it held is freed
// (at once, or ChunkTimeout after its first chunk on the Sync's clock),
// and its channel reports the gap and then listens again. Payloads sent
// afterwards arrive.
func TestLostChunk(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{MaxPayload: smallPayload})
	clock := fakeclock.New()
	b := connect(t, srv.URL(), natspubsub.Options{ChunkTimeout: 3 * time.Second, Now: clock.Now, After: clock.After})
	remote := subscribe(b.Channel("events"))
	st := watch(b.Channel("events"))
	st.until(t, true, 5*time.Second)
	h := newHandPublisher(t, srv.URL())
	heldBy := func() [2]int { p, n := b.Assembling(); return [2]int{p, n} }

	// A publisher that stopped after two chunks of three: held until
	// ChunkTimeout has passed, then dropped.
	h.chunk("stopped 0 3 30", "0123456789")
	h.chunk("stopped 1 3 30", "0123456789")
	// The chunks are in once another message behind them is.
	h.nc.Publish(natspubsub.DefaultPrefix+"events", []byte("marker 1"))
	assert.Equal(t, "marker 1", remote.next(t, eventWait))
	assert.Equal(t, [2]int{1, 30}, heldBy())
	assert.Contains(t, clock.Waits(t, 2), 3*time.Second, "the age of the payload is watched")
	clock.Advance(3 * time.Second)
	require.False(t, st.next(t, eventWait), "a gap")
	require.True(t, st.next(t, eventWait), "listening again once confirmed")
	assert.Equal(t, [2]int{0, 0}, heldBy())
	// Its last chunk, late, delivers nothing.
	h.chunk("stopped 2 3 30", "0123456789")

	// A chunk missing: dropped as soon as the next one shows it.
	h.chunk("skipped 0 3 30", "0123456789")
	h.chunk("skipped 2 3 30", "0123456789")
	require.False(t, st.next(t, eventWait))
	require.True(t, st.next(t, eventWait))
	assert.Equal(t, [2]int{0, 0}, heldBy())

	// Chunks that disagree with the first, or add up to another size.
	type sent struct{ header, data string }
	for _, chunks := range [][]sent{
		{{"count 0 3 30", "0123456789"}, {"count 1 4 30", "0123456789"}},
		{{"size 0 3 30", "0123456789"}, {"size 1 3 31", "0123456789"}},
		{{"long 0 2 15", "0123456789"}, {"long 1 2 15", "0123456789"}},
		{{"short 0 3 30", "0123456789"}, {"short 1 3 30", "0123456789"}, {"short 2 3 30", "01234"}},
	} {
		for _, c := range chunks {
			h.chunk(c.header, c.data)
		}
		require.False(t, st.next(t, eventWait), "%v: a gap", chunks)
		require.True(t, st.next(t, eventWait))
		assert.Equal(t, [2]int{0, 0}, heldBy(), "%v", chunks)
	}

	// Headers no Sync writes are dropped without holding anything.
	for _, bad := range []string{"x", "id 0 1", "id a 1 10", "id 0 0 10", "id 3 2 10", "id -1 2 10", "id 0 2 0"} {
		h.chunk(bad, "0123456789")
	}

	// And payloads sent properly still arrive, whole.
	a := connect(t, srv.URL(), natspubsub.Options{})
	p := bigPayload("after", 5*smallPayload)
	require.NoError(t, a.Channel("events").Publish(t.Context(), p))
	require.True(t, p == remote.next(t, eventWait))
	assert.Empty(t, remote.ch, "nothing of the broken payloads was delivered")
	assert.Equal(t, [2]int{0, 0}, heldBy())
}

// TestAssemblyBounds: past MaxAssembling incomplete payloads, or
// MaxAssemblyBytes, the oldest is dropped for the new one; a payload
// bigger than MaxAssemblyBytes is dropped at its first chunk. Each is a
// gap.
func TestAssemblyBounds(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{MaxPayload: smallPayload})
	b := connect(t, srv.URL(), natspubsub.Options{MaxAssembling: 2, MaxAssemblyBytes: 100})
	remote := subscribe(b.Channel("events"))
	st := watch(b.Channel("events"))
	st.until(t, true, 5*time.Second)
	h := newHandPublisher(t, srv.URL())

	h.chunk("one 0 2 20", "0123456789")
	h.chunk("two 0 2 20", "abcdefghij")
	h.chunk("three 0 2 20", "ABCDEFGHIJ") // drops one
	require.False(t, st.next(t, eventWait))
	require.True(t, st.next(t, eventWait))
	payloads, bytes := b.Assembling()
	assert.Equal(t, 2, payloads)
	assert.Equal(t, 40, bytes)
	h.chunk("one 1 2 20", "0123456789") // gone: nothing
	h.chunk("two 1 2 20", "abcdefghij")
	assert.Equal(t, "abcdefghijabcdefghij", remote.next(t, eventWait))

	h.chunk("big 0 2 90", "0123456789") // 20 + 90 > 100: drops three
	require.False(t, st.next(t, eventWait))
	require.True(t, st.next(t, eventWait))
	h.chunk("huge 0 2 101", "0123456789") // never fits
	require.False(t, st.next(t, eventWait))
	require.True(t, st.next(t, eventWait))
	h.chunk("three 1 2 20", "ABCDEFGHIJ")
	h.chunk("huge 1 2 101", "0123456789")
	h.chunk("big 1 2 90", strings.Repeat("x", 80))
	assert.Equal(t, "0123456789"+strings.Repeat("x", 80), remote.next(t, eventWait))
	assert.Empty(t, remote.ch)
	payloads, bytes = b.Assembling()
	assert.Zero(t, payloads)
	assert.Zero(t, bytes)
}

// TestChunksLostToSlowSubscriber: a subscriber too slow for the chunks
// pouring in loses some to nats.go's pending limit: no payload arrives
// broken, the gap is reported, and what was held is freed by
// ChunkTimeout.
func TestChunksLostToSlowSubscriber(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{MaxPayload: smallPayload})
	clock := fakeclock.New()
	a := connect(t, srv.URL(), natspubsub.Options{})
	b := connect(t, srv.URL(), natspubsub.Options{MaxPending: 8, ChunkTimeout: 3 * time.Second, Now: clock.Now, After: clock.After})
	release := make(chan struct{})
	got := make(chan string, 100)
	b.Channel("events").Subscribe(func(p string) {
		<-release
		got <- p
	})
	st := watch(b.Channel("events"))
	st.until(t, true, 5*time.Second)

	sent := make(map[string]bool)
	for i := range 10 {
		p := bigPayload(fmt.Sprint("slow", i), 5*smallPayload)
		sent[p] = true
		require.NoError(t, a.Channel("events").Publish(t.Context(), p))
	}
	require.False(t, st.next(t, eventWait), "a gap is reported")
	close(release)
	require.True(t, st.next(t, eventWait), "and then listening again")

	// Whatever arrived is whole; the payloads that lost chunks are held
	// until their age is up, then freed. A marker may itself be dropped
	// while the queue drains: another follows until one arrives.
	n := 0
	deadline := time.After(eventWait)
	for marked := false; !marked; {
		require.NoError(t, a.Channel("events").Publish(t.Context(), "marker"))
		select {
		case p := <-got:
			if p == "marker" {
				marked = true
				break
			}
			assert.True(t, sent[p], "a payload that was published, whole (%d bytes)", len(p))
			n++
		case <-time.After(100 * time.Millisecond): // publish another marker
		case <-deadline:
			t.Fatal("no marker arrived")
		}
	}
	t.Logf("%d of 10 payloads of 5 chunks each arrived past a pending limit of 8 messages", n)
	assert.Less(t, n, 10)
	assert.Contains(t, clock.Waits(t, 2), 3*time.Second, "the age of the payloads is watched")
	clock.Advance(3 * time.Second)
	for {
		if payloads, bytes := b.Assembling(); payloads == 0 && bytes == 0 {
			break
		}
		st.until(t, true, eventWait) // each drop is a gap, then listening
	}
}
