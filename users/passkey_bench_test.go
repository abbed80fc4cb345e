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

// BenchmarkPasskeySignIn is a sign-in without a password through the
// handler on SQLite: begin-passkey-signin, the software authenticator's
// assertion (an ECDSA P-256 signature, the client's part, in the loop),
// and signin with it ("passkey"); beside a password sign-in of another
// user with the default hasher (argon2id, OWASP parameters) in the same
// run ("password"). The sign-in limits are off, and each sign-in comes from
// an address of its own (begin-passkey-signin is rate limited per caller).
func BenchmarkPasskeySignIn(b *testing.B) {
	off := rpc.RateLimit{Burst: -1}
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: declared()})
	mod, err := users.Mount(context.Background(), reg, storagetest.SQLite(b), users.Options{
		RootPassword: rootPassword, Out: io.Discard,
		AppURL:             func(context.Context) (string, error) { return pkAppURL, nil },
		SigninLimitPerAddr: off, SigninLimitPerNameAddr: off, SigninLimitPerName: off, SigninLimitUnderAttack: off,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close(context.Background()) })
	if _, _, err := mod.Create(context.Background(), users.NewUser{Username: "ann", Password: "ann-password"}); err != nil {
		b.Fatal(err)
	}
	c := rpctest.New(reg)
	var s signin
	c.Call(b, "/v1/session/signin", map[string]string{"username": "root", "password": rootPassword}).Decode(b, &s)
	root := c.As(s.Token)
	root.Call(b, "/v1/session/authorize", map[string]string{"password": rootPassword})
	k := newSoftKey(b, pkAppURL, pkRPID)
	if a := root.Call(b, "/v1/profile/finish-passkey", k.create(b, root.Call(b, "/v1/profile/begin-passkey").Data)); a.Code != 200 {
		b.Fatal(a.Raw)
	}
	n := 0
	from := func() *rpctest.Client {
		n++
		return c.From(fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
	}

	b.Run("passkey", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g := from()
			opts := g.Call(b, "/v1/session/begin-passkey-signin")
			var ch struct {
				Token string `json:"challenge_token"`
			}
			opts.Decode(b, &ch)
			if a := g.Call(b, "/v1/session/signin", map[string]any{"passkey": k.get(b, opts.Data), "challenge_token": ch.Token}); a.Code != 200 {
				b.Fatal(a.Raw)
			}
		}
	})
	b.Run("password", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if a := from().Call(b, "/v1/session/signin", map[string]string{"username": "ann", "password": "ann-password"}); a.Code != 200 {
				b.Fatal(a.Raw)
			}
		}
	})
}
