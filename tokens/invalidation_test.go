package tokens_test

import (
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Each case makes the token's caller cached (a call succeeds and the cache
// grows), changes the token or its owner, and calls again at once: the
// cache must not answer with the old caller.

// adminToken is a token of ann's holding admin, whose caller is cached.
func adminToken(t *testing.T, e *env, c cast) tokenRec {
	t.Helper()
	tok := e.newToken(t, c.ann, path.Base(t.Name()))
	e.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true})
	n := e.reg.Auth().Len()
	e.ok(t, tok.Token, "/v1/admin/users/read")
	require.Equal(t, n+1, e.reg.Auth().Len(), "the token's caller is cached")
	e.ok(t, tok.Token, "/v1/admin/users/read")
	return tok
}

func TestTokenChangesTakeEffectOnTheNextCall(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		const insufficient = rpc.CodeInsufficientPermissions

		t.Run("disabled", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, false)
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
		})
		t.Run("deleted", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.ann, "/v1/api-tokens/delete", tok.ID)
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
		})
		t.Run("permissions set", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
			e.refused(t, insufficient, tok.Token, "/v1/admin/users/read")
			e.ok(t, tok.Token, "/v1/profile/read")
		})
		t.Run("permissions updated", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": false})
			e.refused(t, insufficient, tok.Token, "/v1/admin/users/read")
			e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
			e.ok(t, tok.Token, "/v1/admin/users/read")
		})
	})
}

// The users module invalidates by user id only; that must drop the owner's
// cached token callers too.
func TestOwnerChangesTakeEffectOnTheNextCall(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		const insufficient = rpc.CodeInsufficientPermissions

		t.Run("owner loses the permission", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.root, "/v1/admin/users/set-permissions", "ann", map[string]bool{"reports": true})
			e.refused(t, insufficient, tok.Token, "/v1/admin/users/read")
			e.ok(t, tok.Token, "/v1/profile/read")
			e.ok(t, c.root, "/v1/admin/users/set-permissions", "ann", map[string]bool{"admin": true, "reports": true})
			e.ok(t, tok.Token, "/v1/admin/users/read")
		})
		t.Run("owner disabled", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.root, "/v1/admin/users/set-enabled", "ann", false)
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
			// Enabled again, the token works again: unlike sessions, tokens
			// are kept while their owner is disabled.
			e.ok(t, c.root, "/v1/admin/users/set-enabled", "ann", true)
			e.ok(t, tok.Token, "/v1/admin/users/read")
			c.ann = e.signin(t, "ann", "ann-password") // disabling ended ann's sessions
		})
		t.Run("owner deleted", func(t *testing.T) {
			tok := adminToken(t, e, c)
			other := e.newToken(t, c.ann, "another")
			require.Equal(t, 4, e.countTokens(t, c.annID), "with those of the cases before")
			bobs := e.newToken(t, c.bob, "bob's")
			e.ok(t, c.root, "/v1/admin/users/delete", "ann")
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
			e.refused(t, insufficient, other.Token, "/v1/profile/read")
			assert.Zero(t, e.countTokens(t, c.annID), "the owner's tokens go with it")
			assert.Equal(t, 1, e.countTokens(t, c.bobID), "no one else's")
			e.ok(t, bobs.Token, "/v1/profile/read")
		})
	})
}

// A change made while calls are in flight is seen by every call that starts
// after it returns: no authentication that read the token before the change
// may cache the old caller after it.
func TestDisableUnderLoad(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := adminToken(t, e, c)
		for i := range 5 {
			if i > 0 {
				e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, true)
				e.ok(t, tok.Token, "/v1/profile/read")
			}
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
							e.call(t, tok.Token, "/v1/profile/read")
						}
					}
				})
			}
			e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, false)
			e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/profile/read")
			close(stop)
			wg.Wait()
			e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/profile/read")
		}
	})
}

// Tokens that are malformed, unknown, or of another kind make a guest.
func TestUnknownTokensAreGuests(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "ci")
		body := strings.TrimPrefix(tok.Token, "tok_")
		unknown, _, err := auth.NewToken(auth.KindAPIToken)
		require.NoError(t, err)
		for _, bad := range []string{
			unknown,
			"ses_" + body, // the right secret with the wrong kind
			"tok_" + body[:len(body)-1],
			"tok_" + body + "A",
			strings.ToUpper(tok.Token),
			"tok_",
			"tok_" + strings.Repeat("A", 10_000),
			"tok_' OR 1=1 --",
		} {
			a := e.call(t, bad, "/v1/profile/read")
			assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "%q: %s", bad, a.Raw)
		}
		e.ok(t, tok.Token, "/v1/profile/read")
	})
}
