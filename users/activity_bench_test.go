package users_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// BenchmarkSignedInCall is a call of a trivial method by a signed-in user,
// from the auth cache, with the users module mounted: with a session
// ("session"), whose last activity the module keeps (a read-locked map
// lookup per call, a queued write at most once a minute), beside the same
// call with a token of the host's own ("baseline"), which the module does
// not track: the same pipeline, principal and cache, without the session's
// bookkeeping. "-parallel" calls from GOMAXPROCS goroutines at once.
func BenchmarkSignedInCall(b *testing.B) {
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: declared()})
	mod, err := users.Mount(context.Background(), reg, storagetest.SQLite(b), users.Options{RootPassword: rootPassword, Out: io.Discard, Hasher: fastHasher()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mod.Close(context.Background()) })
	reg.Register(rpc.Method{ID: "/v1/bench/echo", Permissions: []string{auth.User}, Params: []rpc.Param{{Name: "s"}},
		Handler: func(_ context.Context, s string) (string, error) { return s, nil }})
	reg.Auth().Handle("ext", auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		return &auth.Principal{UserID: auth.RootUserID, Username: auth.RootUsername, Kind: "ext", TokenID: 1}, nil
	}))
	a := rpctest.New(reg).Call(b, "/v1/session/signin", map[string]string{"username": "root", "password": rootPassword})
	var s struct {
		Token string `json:"token"`
	}
	a.Decode(b, &s)
	body := []byte(`["world"]`)
	for _, c := range []struct{ name, token string }{{"baseline", "ext_bench"}, {"session", s.Token}} {
		b.Run(c.name, func(b *testing.B) {
			benchkit.Post(b, reg, "/v1/bench/echo", c.token, body, `"data":"world"`)
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			benchkit.PostParallel(b, reg, "/v1/bench/echo", c.token, body, `"data":"world"`)
		})
	}
}
