package users_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// BenchmarkSigninLimits is a wrong sign-in (with the tests' fast hasher)
// with the limits kept in process (LocalLimits, the baseline) and in the
// shared table: the difference is what sharing the counters costs, three
// upserts, beside an OWASP hash of some 30 ms.
func BenchmarkSigninLimits(b *testing.B) {
	generous := func(local bool) func(*users.Options) {
		return func(o *users.Options) {
			o.LocalLimits = local
			wide := rpc.RateLimit{Burst: 1 << 30, PerSecond: 1e9}
			o.SigninLimitPerNameAddr, o.SigninLimitPerAddr, o.SigninLimitPerName = wide, wide, wide
		}
	}
	for _, dbName := range []string{"sqlite", "postgres"} {
		for _, local := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/local=%v", dbName, local), func(b *testing.B) {
				db := storagetest.Open(b, dbName)
				reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: declared()})
				opts := users.Options{RootPassword: rootPassword, Out: io.Discard, Hasher: fastHasher()}
				generous(local)(&opts)
				mod, err := users.Mount(context.Background(), reg, db, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { mod.Close(context.Background()) })
				c := rpctest.New(reg).From("198.51.100.7")
				body := `[{"username":"nobody","password":"wrong-password"}]`
				for b.Loop() {
					if a := c.Post(b, "/v1/session/signin", body); a.Code != 401 {
						b.Fatal(a.Raw)
					}
				}
			})
		}
	}
}
