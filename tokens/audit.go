package tokens

import (
	"context"
	"strconv"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// The audit trail is the users module's (users.Options.Audit): a token
// belongs to a user, and its changes are credential changes of that user.
// Each is recorded in its transaction, as the caller made it; the
// refusals of the rules (a change made with an API token, a grant the
// owner does not hold) after the change was refused. Never the token.

// audited writes the entry of a change to token id through tx.
func (m *Module) audited(ctx context.Context, tx bun.IDB, action string, id int64, changes map[string]any) error {
	trail := m.users.Auditor()
	if trail == nil {
		return nil
	}
	return trail.Record(ctx, tx, storage.AuditEntry{Action: action, Target: strconv.FormatInt(id, 10), Changes: changes})
}

// recordRefusal records a refusal by the rules of a change to token id (0:
// a token not made yet) and returns it.
func (m *Module) recordRefusal(ctx context.Context, action string, id int64, refusal *rpc.Error) *rpc.Error {
	trail := m.users.Auditor()
	if trail == nil {
		return refusal
	}
	e := storage.AuditEntry{Action: action, Result: "forbidden: " + refusal.Message}
	if id != 0 {
		e.Target = strconv.FormatInt(id, 10)
	}
	if err := trail.Record(ctx, m.db, e); err != nil {
		m.reg.Logger().ErrorContext(ctx, "tokens: record a refused change in the audit trail", "action", action, "err", err)
	}
	return refusal
}

// checkSession is requireSession, recording its refusal.
func (m *Module) checkSession(ctx context.Context, caller *auth.Principal, action string, id int64) *rpc.Error {
	if rerr := requireSession(caller); rerr != nil {
		return m.recordRefusal(ctx, action, id, rerr)
	}
	return nil
}

// errGrant carries a grant refusal out of the transaction it rolled back,
// to be recorded.
type errGrant struct{ refusal *rpc.Error }

func (e errGrant) Error() string { return e.refusal.Error() }

// permissionChanges are the names whose grant differs between from and to,
// with their new state.
func permissionChanges(from, to map[string]bool) map[string]bool {
	out := map[string]bool{}
	for name, on := range to {
		if from[name] != on {
			out[name] = on
		}
	}
	for name, on := range from {
		if _, ok := to[name]; !ok && on {
			out[name] = false
		}
	}
	return out
}
