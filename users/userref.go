package users

import (
	"context"
	"strconv"

	"github.com/authrpc/authrpc/rpc"
)

// The methods name a user by a user_id parameter: an id or a user name.
// They resolve it here, answering 404 with the parameter as it was sent,
// and hand the operations the row.

// userRef is a parsed user_id parameter: an id (all digits) or a name.
type userRef struct {
	raw  string
	id   int64  // when byID
	name string // normalized, when !byID and valid
	byID bool
	ok   bool // false: it cannot name any user
}

func parseUserRef(s string) userRef {
	ref := userRef{raw: s}
	if s != "" && allDigits(s) {
		id, err := strconv.ParseInt(s, 10, 64)
		ref.byID, ref.id, ref.ok = true, id, err == nil && id > 0
		return ref
	}
	ref.name, ref.ok = normalizeUsername(s)
	return ref
}

func (r userRef) notFound() *rpc.Error {
	return rpc.NotFound("user %s not found", rpc.Quote(r.raw))
}

// resolve finds the user a user_id parameter names, or answers 404.
func (m *Module) resolve(ctx context.Context, userID string) (*userRow, error) {
	ref := parseUserRef(userID)
	if !ref.ok {
		return nil, ref.notFound()
	}
	var row *userRow
	var err error
	if ref.byID {
		row, err = m.findByID(ctx, m.db, ref.id, false)
	} else {
		row, err = m.findByName(ctx, m.db, ref.name, false)
	}
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, ref.notFound()
	}
	return row, nil
}
