package rpc

import (
	"fmt"
	"strings"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// Step-up authorization: methods that a signed-in caller may call only
// within Options.AuthorizedMaxAge of proving again who it is.

// requiresAuthorizationText says so in the reference and the OpenAPI
// document.
const requiresAuthorizationText = "**Requires a recent authorization:** the session must have called `/v1/session/authorize` within the last few minutes; otherwise the call answers 403 with `error.data.meta.authorization_required: true`."

// authorized reports whether p was authorized within the registry's
// AuthorizedMaxAge of now. API tokens never are, whatever their principal
// says.
func (r *Registry) authorized(p *auth.Principal, now time.Time) bool {
	if !p.Authenticated() || p.Kind == auth.KindAPIToken || p.AuthorizedAt.IsZero() {
		return false
	}
	return now.Sub(p.AuthorizedAt) <= r.opts.AuthorizedMaxAge
}

// Authorized reports whether p was authorized recently enough, now, to call
// a method that requires it (Options.AuthorizedMaxAge, read on the
// registry's Clock). A host's handler that asks for it only on some of its
// paths checks here and answers AuthorizationRequired.
func (r *Registry) Authorized(p *auth.Principal) bool {
	return r.authorized(p, r.clock.Now())
}

// AuthorizationRequired returns the refusal of a call without a recent
// authorization: 403 with error.data.meta.authorization_required true.
// Clients branch on the meta flag, not on the message.
func AuthorizationRequired() *Error {
	return Forbidden("this method requires a recent authorization: call /v1/session/authorize with your credentials first").
		WithMeta(map[string]any{"authorization_required": true})
}

// RequireAuthorization makes the methods ids (registered already, built in
// or the host's own) require a recent authorization, as
// Method.RequireAuthorization does, so that a host tightens a module's
// method without forking it: "/v1/profile/set-email", say. It fails naming
// the ids that are not registered, and changes none of the methods then.
// Calls already past the permission check are not affected.
func (r *Registry) RequireAuthorization(ids ...string) error {
	var missing []string
	ms := make([]*method, 0, len(ids))
	for _, id := range ids {
		m := r.lookup(id)
		if m == nil {
			missing = append(missing, Quote(id))
			continue
		}
		ms = append(ms, m)
	}
	if len(missing) > 0 {
		return fmt.Errorf("rpc: require authorization: no method %s is registered", strings.Join(missing, ", "))
	}
	for _, m := range ms {
		m.fresh.Store(true)
	}
	return nil
}
