package users

import (
	"context"
	"errors"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

// changeFunc changes a user, given its row locked in tx, and reports
// whether it changed anything; a refusal is an *Error.
type changeFunc func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error)

// modify runs fn on the user with the given id, locked, in a transaction;
// after it commits, and if fn reports a change, the user's cached principals
// are dropped so that the next call sees the change, and the user's open
// sockets close: the change ends or narrows what the user's credentials
// may do.
func (m *Module) modify(ctx context.Context, id int64, fn changeFunc) (bool, error) {
	return m.modifyAs(ctx, id, false, fn)
}

// modifyProfile is modify for a change that leaves the user's credentials
// as valid as they were (an email, a telegram name): the cached principals
// are refreshed, and the sockets stay open.
func (m *Module) modifyProfile(ctx context.Context, id int64, fn changeFunc) (bool, error) {
	return m.modifyAs(ctx, id, true, fn)
}

func (m *Module) modifyAs(ctx context.Context, id int64, refresh bool, fn changeFunc) (bool, error) {
	var changed bool
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row, err := m.findByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if row == nil { // deleted since it was resolved
			return notFound(id)
		}
		changed, err = fn(ctx, tx, row)
		return err
	})
	if err != nil {
		return false, txError(err)
	}
	if changed {
		m.reg.Auth().Invalidate(auth.Invalidation{UserID: id, Refresh: refresh})
	}
	return changed, nil
}

// txError passes a refusal out of a transaction as the *Error it is, and
// a unique violation (a race the checks before it lost) as ErrConflict.
func txError(err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case storage.IsUniqueViolation(err):
		return refuse(ErrConflict, "user name, email or telegram name is taken")
	}
	return err
}
