package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// TestRequestObjectOnlyAtRoot: a JSON-RPC request object names its method
// only at the mount root; elsewhere it cannot call another method than the
// path's, so rules applied by path (a proxy's, a method's body limit) hold.
func TestRequestObjectOnlyAtRoot(t *testing.T) {
	t.Parallel()
	whoami := `{"jsonrpc":"2.0","method":"/v1/t/whoami","id":1}`
	for _, prefix := range []string{"", "/api"} {
		f := newFixture(t, rpc.Options{Prefix: prefix})
		admin := f.c.As(f.user)
		t.Run("prefix "+prefix, func(t *testing.T) {
			for _, root := range []string{prefix + "/", prefix} {
				if root == "" {
					continue
				}
				a := admin.Post(t, root, whoami)
				require.Equal(t, 200, a.HTTP, "%s: %s", root, a.Raw)
				assert.JSONEq(t, `"ann"`, string(a.Data))
			}
			for _, path := range []string{"/not-api/x", prefix + "/v1/t/echo", prefix + "/v1/t/missing", prefix + "/v1", prefix + "//"} {
				a := admin.Post(t, path, whoami)
				assert.Equal(t, rpc.CodeMethodNotFound, a.Code, "%s: %s", path, a.Raw)
				assert.Equal(t, "1", string(a.ID), "the id is echoed")
				assert.NotContains(t, a.Raw, "ann", "%s ran whoami", path)
			}
		})
		t.Run("prefix "+prefix+": own path names its method or none", func(t *testing.T) {
			a := admin.Post(t, prefix+"/v1/t/whoami", whoami)
			require.Equal(t, 200, a.HTTP, a.Raw)
			assert.JSONEq(t, `"ann"`, string(a.Data))
			a = f.c.Post(t, prefix+"/v1/t/echo", `{"jsonrpc":"2.0","params":["no method"],"id":2}`)
			require.Equal(t, 200, a.HTTP, a.Raw)
			assert.JSONEq(t, `"no method"`, string(a.Data))
			assert.Equal(t, "2", string(a.ID))
			a = f.c.Post(t, prefix+"/", `{"jsonrpc":"2.0","params":[],"id":3}`)
			assert.Equal(t, rpc.CodeMethodNotFound, a.Code, "at the root a request object names its method: %s", a.Raw)
		})
	}
}

// TestRequestObjectAtRootKeepsMethodBodyLimit: a body posted to the root is
// read within the registry's limit, then held to the named method's.
func TestRequestObjectAtRootKeepsMethodBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/small","params":["`+strings.Repeat("x", 100)+`"],"id":1}`)
	assert.Equal(t, 413, a.HTTP, a.Raw)
	assert.Equal(t, rpc.CodeTooLarge, a.Code)
	a = f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/small","params":["short"]}`) // 58 bytes
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `5`, string(a.Data))
}

// TestRequestObjectID: an id is a string, a number or null; anything else
// is refused with 400 and not echoed.
func TestRequestObjectID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	for _, id := range []string{`"abc"`, `17`, `-1.5e3`, `null`, `""`} {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":["x"],"id":`+id+`}`)
		require.Equal(t, 200, a.HTTP, "%s: %s", id, a.Raw)
		assert.Equal(t, id, string(a.ID))
	}
	for _, id := range []string{`{}`, `{"a":1}`, `[1]`, `[]`, `true`, `false`} {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":["x"],"id":`+id+`}`)
		assert.Equal(t, 400, a.HTTP, "%s: %s", id, a.Raw)
		assert.Equal(t, 400, a.Code)
		assert.Contains(t, a.Message, "string, a number or null")
		assert.Empty(t, a.ID, "an invalid id is not echoed")
	}
}

// TestCallDeadline: every call has a deadline, the registry's or its
// method's, that reaches the authenticator and the handler; a call that
// runs past it answers 503 with a generic message.
func TestCallDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{CallTimeout: 300 * time.Millisecond})
	deadlines := make(chan time.Time, 4)
	wait := func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			deadlines <- time.Time{}
			return errors.New("no deadline")
		}
		deadlines <- d
		<-ctx.Done()
		return fmt.Errorf("db: query: %w", ctx.Err())
	}
	f.reg.Register(rpc.Method{ID: "/v1/t/hang", Title: "Hang", Permissions: []string{"*"}, Handler: wait})
	f.reg.Register(rpc.Method{ID: "/v1/t/hang-long", Title: "Hang longer", Permissions: []string{"*"}, Timeout: time.Second, Handler: wait})
	f.reg.Register(rpc.Method{ID: "/v1/t/deadline", Title: "Deadline", Permissions: []string{"*"}, Handler: func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		if !ok {
			return errors.New("no deadline")
		}
		return nil
	}})

	for path, want := range map[string]time.Duration{"/v1/t/hang": 300 * time.Millisecond, "/v1/t/hang-long": time.Second} {
		a := f.c.Call(t, path) // the handler waits for its context to end
		assert.Equal(t, 503, a.HTTP, a.Raw)
		assert.Equal(t, rpc.CodeServiceUnavailable, a.Code)
		assert.NotContains(t, a.Message, "db: query", "generic")
		deadlineSetDuring(t, <-deadlines, want, f.obs.last())
	}
	assert.Contains(t, f.logs.String(), "call passed its deadline")

	t.Run("void calls too", func(t *testing.T) {
		a := f.c.With(rpc.HeaderVoidCall, "true").Call(t, "/v1/t/hang")
		require.Equal(t, 200, a.HTTP, a.Raw)
		var d time.Time
		select {
		case d = <-deadlines:
		case <-time.After(time.Minute):
			t.Fatal("the void call did not run")
		}
		require.Eventually(t, func() bool { return f.obs.last().Method == "/v1/t/hang" && f.obs.last().Void }, time.Minute, 10*time.Millisecond)
		assert.Equal(t, rpc.CodeServiceUnavailable, f.obs.last().Code)
		deadlineSetDuring(t, d, 300*time.Millisecond, f.obs.last())
	})

	t.Run("authentication has it", func(t *testing.T) {
		reg := rpc.New(rpc.Options{CallTimeout: 200 * time.Millisecond})
		reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
			<-ctx.Done() // a read-through to a silent database
			return nil, ctx.Err()
		}))
		reg.Register(rpc.Method{ID: "/v1/x", Title: "X", Permissions: []string{"*"}, Handler: func(ctx context.Context) error { return nil }})
		token, _, err := auth.NewToken(auth.KindSession)
		require.NoError(t, err)
		a := rpctest.New(reg).As(token).Call(t, "/v1/x") // nothing but the call's deadline ends the authenticator's wait
		assert.Equal(t, 503, a.HTTP, a.Raw)
	})
}

// deadlineSetDuring asserts that the deadline d is want after a moment of
// the call rec records: set once, while the call ran, to its timeout.
func deadlineSetDuring(t *testing.T, d time.Time, want time.Duration, rec rpc.CallRecord) {
	t.Helper()
	set := d.Add(-want)
	assert.False(t, set.Before(rec.Start) || set.After(rec.Start.Add(rec.Runtime)),
		"the deadline %v is %v after %v, outside the call (%v, for %v)", d, want, set, rec.Start, rec.Runtime)
}
