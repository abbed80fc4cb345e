package users_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// BenchmarkSigninEnumeration times a sign-in with a wrong password for a
// user who exists beside one for a name nobody has, through the handler
// with the default (OWASP) hasher, first on a quiet machine, then while 8
// clients from other addresses keep the hasher's 2 slots busy and its
// queue half full. The baseline is a second name nobody has, timed alike:
// what two calls doing the same work differ by in this harness. Each op is
// one call of each of the three, in turns (the order rotates), so that a
// load that drifts weighs on all alike; the p50 of each is reported with
// ratio (wrong password / unknown name) and control (the other unknown
// name / unknown name) beside ns/op (of the three). The two paths must
// cost the same: ratio as near 1 as control. The limits are off, so that
// every call reaches the hasher and only the paths differ. Run with
// -benchtime=30x: an op takes three hashes, or three waits in the queue.
func BenchmarkSigninEnumeration(b *testing.B) {
	for _, dbName := range []string{"sqlite", "postgres"} {
		b.Run(dbName, func(b *testing.B) {
			db := storagetest.Open(b, dbName)
			reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), CallTimeout: time.Minute, Permissions: declared()})
			off := rpc.RateLimit{Burst: -1}
			mod, err := users.Mount(context.Background(), reg, db, users.Options{
				RootPassword: rootPassword, Out: io.Discard, LocalLimits: true,
				// The default hasher, with a queue that never refuses the
				// measured calls: a 429 would be quicker than either path.
				Hasher:                 auth.NewHasher(auth.HasherOptions{MaxConcurrent: users.DefaultMaxConcurrentHashes, MaxQueue: 64, MaxQueuePerKey: 64, MaxWait: time.Minute}),
				SigninLimitPerNameAddr: off, SigninLimitPerAddr: off, SigninLimitPerName: off, SigninLimitUnderAttack: off,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { mod.Close(context.Background()) })
			if _, _, err := mod.Create(context.Background(), users.NewUser{Username: "ann", Password: "ann-password"}); err != nil {
				b.Fatal(err)
			}
			c := rpctest.New(reg).From("203.0.113.7")
			signin := func(body string) time.Duration {
				start := time.Now()
				if a := c.Post(b, "/v1/session/signin", body); a.Code != 401 {
					b.Fatal(a.Raw)
				}
				return time.Since(start)
			}
			bodies := [3]string{
				`[{"username":"ann","password":"wrong-password"}]`,     // wrong password
				`[{"username":"nobody","password":"wrong-password"}]`,  // unknown name
				`[{"username":"nobody2","password":"wrong-password"}]`, // the baseline
			}
			for _, load := range []string{"quiet", "loaded"} {
				b.Run(load, func(b *testing.B) {
					if load == "loaded" {
						b.Cleanup(floodHasher(b, reg, 8))
					}
					var took [3][]time.Duration
					for i := 0; b.Loop(); i++ {
						for j := range 3 {
							k := (i + j) % 3
							took[k] = append(took[k], signin(bodies[k]))
						}
					}
					wrong, unknown, control := p50(took[0]), p50(took[1]), p50(took[2])
					b.ReportMetric(wrong.Seconds()*1000, "wrong-p50-ms")
					b.ReportMetric(unknown.Seconds()*1000, "unknown-p50-ms")
					b.ReportMetric(wrong.Seconds()/unknown.Seconds(), "ratio")
					b.ReportMetric(control.Seconds()/unknown.Seconds(), "control")
				})
			}
		})
	}
}

func p50(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// floodHasher keeps n clients signing in with wrong passwords, each from
// an address of its own, until the returned func is called.
func floodHasher(b *testing.B, reg *rpc.Registry, n int) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := rpctest.New(reg).From(fmt.Sprintf("198.51.100.%d", i))
		body := fmt.Sprintf(`[{"username":"flood-%d","password":"wrong-password"}]`, i)
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				c.Post(b, "/v1/session/signin", body)
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}
