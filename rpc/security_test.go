package rpc_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// TestRequestObjectOnlyAtRoot: a JSON-RPC request object names its method
// only at the mount root; elsewhere it cannot call another method than the
// path's, so rules applied by path (a proxy's, a method's body limit) hold.
func TestRequestObjectOnlyAtRoot(t *testing.T) {
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
