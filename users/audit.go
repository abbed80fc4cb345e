package users

import (
	"context"
	"errors"
	"strconv"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

// The audit trail (Options.Audit): every change to a user is recorded in
// the transaction that makes it, as its actor made it; a refusal by the
// rules (ErrForbidden) after its transaction rolled back. Refusals of
// input (ErrInvalid, ErrNotFound, ErrConflict) change nothing and are the
// call log's.

// Auditor returns the trail the module records its changes in
// (Options.Audit), nil without one: the tokens module records in it too.
func (m *Module) Auditor() storage.Auditor { return m.audit }

// audited writes e, made by `by`, through db (the change's transaction).
func (m *Module) audited(ctx context.Context, db bun.IDB, by *auth.Principal, e storage.AuditEntry) error {
	if m.audit == nil {
		return nil
	}
	return m.audit.Record(auth.NewContext(ctx, by), db, e)
}

func (a Actor) record(ctx context.Context, tx bun.IDB, action string, id int64, changes map[string]any) error {
	return a.m.audited(ctx, tx, a.by, storage.AuditEntry{Action: action, Target: strconv.FormatInt(id, 10), Changes: changes})
}

// recordRefusal records *err when it is a refusal by the rules: defer it
// in an operation, with the operation's error.
func (a Actor) recordRefusal(ctx context.Context, action string, id int64, err *error) {
	var e *Error
	if a.m.audit == nil || !errors.As(*err, &e) || e.Reason != ErrForbidden {
		return
	}
	entry := storage.AuditEntry{Action: action, Result: "forbidden: " + e.Message}
	if id != 0 {
		entry.Target = strconv.FormatInt(id, 10)
	}
	if rerr := a.m.audited(ctx, a.m.db, a.by, entry); rerr != nil {
		a.m.log.ErrorContext(ctx, "users: record a refused change in the audit trail", "action", action, "err", rerr)
	}
}

// createdFields are a new user's fields as the trail records them.
func createdFields(row *userRow, password bool) map[string]any {
	return map[string]any{
		"name":          row.Name,
		"email":         nullable(row.Email),
		"telegram_name": nullable(row.TelegramName),
		"enabled":       row.Enabled,
		"permissions":   granted(row.Permissions),
		"password":      password,
	}
}

// granted lists the names a permission map holds.
func granted(perms map[string]bool) map[string]bool {
	out := make(map[string]bool, len(perms))
	for name, on := range perms {
		if on {
			out[name] = true
		}
	}
	return out
}

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

// nullable is s, or nil (JSON null) when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
