package storage

import (
	"context"

	"github.com/uptrace/bun"
)

// An Auditor keeps the audit trail: a record of every administrative and
// credential change. A module that makes such changes takes one in its
// Options (nil: no trail) and hands each change to Record in the
// transaction that makes it, so that the entry is stored if and only if
// the change is. Package audit's Module is the Auditor of the built-in
// modules; a host's own methods call it the same way.
//
// The hook lives here, beside the transactions it writes in, so that the
// modules that record changes (users, tokens, settings) and the module that
// keeps them (audit) do not import each other.
type Auditor interface {
	// Record stores e through db: the change's transaction (a bun.Tx), or
	// for a refusal that rolled its transaction back, the database. Who
	// acts is the principal on ctx (auth.FromContext); the client address
	// and user agent are those of the call ctx serves (rpc.CallFromContext),
	// if any. An error fails the change.
	Record(ctx context.Context, db bun.IDB, e AuditEntry) error
}

// AuditEntry is what a module tells an Auditor of one change. Who made it,
// from where and when, the Auditor adds.
type AuditEntry struct {
	// Action names the change, the module first: "users.create",
	// "tokens.set-permissions", "settings.update".
	Action string
	// Target is the id of what was changed (a user's, a token's), "" for
	// none (the settings).
	Target string
	// Changes are the fields the change set, by name, with their new
	// values (encoded as JSON). Never a secret: a password, a token, an
	// SMTP password appear only as a field's name with the value true
	// ("it was set"), or not at all.
	Changes map[string]any
	// Result is "" (stored as "ok") for a change that was made, or the
	// reason a change was refused: "forbidden: <message>".
	Result string
}
