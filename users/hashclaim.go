package users

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// The hashing queue is shared fairly (auth.HashClaim): each caller waits
// under the key of its address, signed-in callers and a user signing in
// from an address they signed in from before wait ahead, and addresses
// that keep trying wait behind. A flood of wrong passwords from many
// addresses then cannot refuse a real user's right password.
const (
	// knownAddrs is how many of a user's latest sign-in addresses are kept.
	knownAddrs = 8
	// hastyAfter sign-in attempts from one address, whatever their
	// outcome (a refusal for a full queue too), forgiven one per
	// hastyForgiven, make its next ones wait behind the others': more than
	// 10 a minute. A real user tries a few times, retries included; a
	// flood, from each of its addresses, tries up to its sign-in budget
	// (30, then one per 2 s).
	hastyAfter    = 10
	hastyForgiven = 6 * time.Second
)

// hashCtx returns ctx with the caller's claim on the hashing queue: keyed
// by its address, with the given priority.
func hashCtx(ctx context.Context, prio auth.HashPriority) context.Context {
	return auth.WithHashClaim(ctx, auth.HashClaim{Key: auth.AddrKey(clientAddr(ctx)), Priority: prio})
}

// signinPriority is the place in the hashing queue of a sign-in as row
// (nil when the name is nobody's) from the address addr (an address key):
// ahead from an address the user signed in from before, behind from one
// that keeps trying. An unknown name and a wrong password wait alike. It
// counts the attempt, after deciding.
func (m *Module) signinPriority(row *userRow, addr string) auth.HashPriority {
	prio := auth.HashPriorityNormal
	switch {
	case addr != "" && row != nil && slices.Contains(row.SigninAddrs, addr):
		prio = auth.HashPriorityHigh
	case m.hasty.Spent(addr):
		prio = auth.HashPriorityLow
	}
	m.hasty.Allow(addr)
	return prio
}

// rememberAddr puts addr (an address key) first in the user's sign-in
// addresses. A failure is logged: it only costs the user their place.
func (m *Module) rememberAddr(ctx context.Context, row *userRow, addr string) {
	if addr == "" || (len(row.SigninAddrs) > 0 && row.SigninAddrs[0] == addr) {
		return
	}
	list := make(addrList, 0, knownAddrs)
	list = append(list, addr)
	for _, a := range row.SigninAddrs {
		if a != addr && len(list) < knownAddrs {
			list = append(list, a)
		}
	}
	_, err := m.db.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
		Set("signin_addrs = ?", list).Where("id = ?", row.ID).Exec(ctx)
	if err != nil {
		m.log.WarnContext(ctx, "users: remember sign-in address", "user_id", row.ID, "err", err)
	}
}

// addrList is a JSON array of address keys in a column: TEXT on SQLite,
// JSONB on PostgreSQL. Nil is stored as [].
type addrList []string

func (l addrList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

func (l *addrList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("users: signin_addrs: cannot scan %T", src)
	}
	return json.Unmarshal(b, (*[]string)(l))
}
