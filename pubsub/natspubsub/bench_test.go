package natspubsub_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// channelPair is one channel as two instances see it: a publishes, b
// receives.
type channelPair struct{ a, b pubsub.Channel }

// benchChannels returns the same channel on PostgreSQL (when
// TEST_POSTGRES_DSN is set) and on the machine's NATS server, for
// side-by-side sub-benchmarks.
func benchChannels(b *testing.B, name string) map[string]func(b *testing.B) channelPair {
	return map[string]func(b *testing.B) channelPair{
		"postgres": func(b *testing.B) channelPair {
			dsn := storagetest.PostgresDSN(b) // skips, saying why, without TEST_POSTGRES_DSN
			open := func() *storage.Sync {
				db, err := storage.Open(b.Context(), dsn, storage.WithMaxOpenConns(8))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				s, err := storage.NewSync(b.Context(), db, storage.SyncOptions{Logger: warnLogger(b)})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close(context.Background()) })
				return s
			}
			return channelPair{open().Channel(name), open().Channel(name)}
		},
		"nats": func(b *testing.B) channelPair {
			url, prefix := natstest.URL(b), testPrefix()
			open := func() *natspubsub.Sync {
				return connect(b, url, natspubsub.Options{Prefix: prefix, MaxPending: 1 << 22, MaxPendingBytes: 1 << 30, Logger: warnLogger(b)})
			}
			return channelPair{open().Channel(name), open().Channel(name)}
		},
	}
}

// warnLogger logs only what went wrong, to the benchmark's log.
func warnLogger(b *testing.B) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// waitListening waits until ch reports listening.
func waitListening(b *testing.B, ch pubsub.Channel) {
	up := make(chan struct{})
	var once atomic.Bool
	ch.OnState(func(l bool) {
		if l && once.CompareAndSwap(false, true) {
			close(up)
		}
	})
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		b.Fatal("channel not listening within 10 s")
	}
}

// BenchmarkChannelThroughput publishes payloads of an invalidation's size
// (24 bytes) and of a big event's (64 KB) from 8 goroutines on one
// instance and counts them in on another: an op is one payload that has
// arrived, so msgs/s is the channel's throughput end to end, PostgreSQL's
// NOTIFY beside NATS in one run.
//
//	go test -run '^$' -bench ChannelThroughput -benchtime 3s ./pubsub/natspubsub/
func BenchmarkChannelThroughput(b *testing.B) {
	for _, size := range []struct {
		name    string
		payload string
	}{
		{"24B", strings.Repeat("i", 24)},
		{"64KB", strings.Repeat("e", 64<<10)},
	} {
		for _, name := range []string{"postgres", "nats"} {
			b.Run(size.name+"/"+name, func(b *testing.B) { throughput(b, name, size.payload) })
		}
	}
}

// throughput publishes payload on one instance of the channel and waits
// until the other has received every one.
func throughput(b *testing.B, name, payload string) {
	p := benchChannels(b, "bench")[name](b)
	var got atomic.Int64
	done := make(chan struct{})
	var want atomic.Int64
	want.Store(-1)
	p.b.Subscribe(func(string) {
		if n := got.Add(1); n == want.Load() {
			close(done)
		}
	})
	waitListening(b, p.b)
	b.SetParallelism(4) // 8 publishers on 2 cores
	b.ResetTimer()
	start := time.Now()
	var sent atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.a.Publish(context.Background(), payload); err != nil {
				b.Error(err)
				return
			}
			sent.Add(1)
		}
	})
	want.Store(sent.Load())
	if got.Load() < sent.Load() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("%d of %d payloads arrived within 30 s", got.Load(), sent.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(sent.Load())/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkInvalidationLatency measures an invalidation across two
// instances, each an auth.Mux shared on the channel: from Invalidate on
// one until the other has applied it. It reports the median and p99.
//
//	go test -run '^$' -bench InvalidationLatency -benchtime 2000x ./pubsub/natspubsub/
func BenchmarkInvalidationLatency(b *testing.B) {
	for _, name := range []string{"postgres", "nats"} {
		b.Run(name, func(b *testing.B) {
			p := benchChannels(b, "auth")[name](b)
			ma, mb := auth.NewMux(auth.MuxOptions{}), auth.NewMux(auth.MuxOptions{})
			ma.Share(p.a)
			mb.Share(p.b)
			applied := make(chan int64, 16)
			mb.OnInvalidate(func(inv auth.Invalidation) {
				if inv.UserID != 0 {
					applied <- inv.UserID
				}
			})
			waitListening(b, p.a)
			waitListening(b, p.b)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				id := int64(i + 1)
				start := time.Now()
				ma.Invalidate(auth.Invalidation{UserID: id})
				for got := int64(0); got != id; {
					select {
					case got = <-applied:
					case <-time.After(5 * time.Second):
						b.Fatalf("invalidation %d not applied on the other instance within 5 s", id)
					}
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			if b.N >= 100 {
				b.Logf("%s: %d invalidations, p50 %v, p99 %v, max %v", name, b.N, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
			}
		})
	}
}
