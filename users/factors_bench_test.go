package users_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// BenchmarkSecondFactorCheck is what the second factors add to a sign-in
// of a user without one: the check of each factor's Enrolled (TOTP,
// recovery codes, passkeys: one count each), beside the whole sign-in with
// a correct password (the tests' fast hasher, limits in process), which
// includes it. An OWASP hash (some 30 ms) dwarfs both.
func BenchmarkSecondFactorCheck(b *testing.B) {
	for _, dbName := range []string{"sqlite", "postgres"} {
		var db *bun.DB
		mount := func(b *testing.B) (*users.Module, *users.User, *rpctest.Client) {
			db = storagetest.Open(b, dbName)
			reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: declared()})
			wide := rpc.RateLimit{Burst: 1 << 30, PerSecond: 1e9}
			mod, err := users.Mount(context.Background(), reg, db, users.Options{
				RootPassword: rootPassword, Out: io.Discard, Hasher: fastHasher(), LocalLimits: true,
				SigninLimitPerNameAddr: wide, SigninLimitPerAddr: wide, SigninLimitPerName: wide,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { mod.Close(context.Background()) })
			u, _, err := mod.Create(context.Background(), users.NewUser{Username: "bob", Password: "bob-password"})
			if err != nil {
				b.Fatal(err)
			}
			return mod, u, rpctest.New(reg).From("198.51.100.7")
		}
		b.Run(dbName+"/signin", func(b *testing.B) {
			_, _, c := mount(b)
			body := `[{"username":"bob","password":"bob-password"}]`
			for b.Loop() {
				if a := c.Post(b, "/v1/session/signin", body); a.Code != 200 {
					b.Fatal(a.Raw)
				}
			}
		})
		b.Run(dbName+"/check", func(b *testing.B) {
			mod, u, _ := mount(b)
			ctx := context.Background()
			for b.Loop() {
				if has, err := mod.HasSecondFactor(ctx, u); err != nil || has {
					b.Fatal(has, err)
				}
			}
		})
	}
}
