package users

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// The sessions a user can see and end.

// SessionInfo describes an open session, as the session lists show it. It
// never holds the token or its digest.
type SessionInfo struct {
	ID     int64
	UserID int64
	// Current: the session the actor who listed it acts with.
	Current bool
	Created time.Time
	Expires time.Time
	// LastActivity is when a call was last made with it, written at most
	// once a minute: it may be up to a minute behind.
	LastActivity time.Time
	// Authorized is when it last passed /v1/session/authorize; zero if never.
	Authorized time.Time
	// RemoteAddress and UserAgent are the sign-in's client address (by the
	// registry's trusted-proxy rule) and User-Agent header; Device, Browser
	// and OS are parsed from the user agent ("" when it says nothing).
	RemoteAddress string
	UserAgent     string
	Device        string
	Browser       string
	OS            string
}

// Sessions lists the open sessions of user id, the most recently active
// first, as /v1/profile/get-sessions (for the actor's own) and
// /v1/admin/users/get-sessions do. A user lists its own; others' take the
// admin permission.
func (a Actor) Sessions(ctx context.Context, id int64) ([]SessionInfo, error) {
	if err := a.administerOrSelf(id); err != nil {
		return nil, err
	}
	m := a.m
	if _, err := m.load(ctx, id); err != nil {
		return nil, err
	}
	var rows []sessionRow
	err := m.db.NewSelect().Model(&rows).ModelTableExpr(m.tables.sessions).
		ExcludeColumn("digest").
		Where("user_id = ?", id).
		Where("expires > ?", m.now().UTC()).
		OrderExpr("last_activity DESC, id DESC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("users: list sessions of user %d: %w", id, err)
	}
	out := make([]SessionInfo, len(rows))
	for i, r := range rows {
		out[i] = SessionInfo{
			ID: r.ID, UserID: r.UserID,
			Current: a.by.Kind == auth.KindSession && a.by.TokenID == r.ID,
			Created: r.Created.UTC(), Expires: r.Expires.UTC(), LastActivity: r.LastActivity.UTC(),
			RemoteAddress: r.RemoteAddress, UserAgent: r.UserAgent, Device: r.Device, Browser: r.Browser, OS: r.OS,
		}
		if !r.Authorized.IsZero() {
			out[i].Authorized = r.Authorized.UTC()
		}
	}
	return out, nil
}

// EndSession ends one session of user id, as /v1/profile/sign-out-session
// and /v1/admin/users/sign-out-session do: its cached callers are dropped
// and its sockets closed (code 4000) on every instance; the user's other
// sessions go on. A session that is not the user's is ErrNotFound. A user
// ends its own (the current one too, as signing out does); ending others'
// takes the admin permission, and root's only root.
func (a Actor) EndSession(ctx context.Context, id, sessionID int64) (err error) {
	defer a.recordRefusal(ctx, "users.end-session", id, &err)
	if err := a.checkEndSessions(id); err != nil {
		return err
	}
	m := a.m
	if _, err := m.load(ctx, id); err != nil {
		return err
	}
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).
			Where("id = ? AND user_id = ?", sessionID, id).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: end session %d of user %d: %w", sessionID, id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sessionNotFound(sessionID)
		}
		return a.record(ctx, tx, "users.end-session", id, map[string]any{"session_id": strconv.FormatInt(sessionID, 10)})
	})
	if err != nil {
		return txError(err)
	}
	m.sessionEnded(id, sessionID)
	return nil
}

// EndOtherSessions ends every session of the actor's own but the one it
// acts with, as /v1/profile/sign-out-all-sessions does, and returns how
// many it ended. That method requires a recent authorization; a host's
// own caller decides for itself. Made with an API token, it ends every
// session of the token's user.
func (a Actor) EndOtherSessions(ctx context.Context) (int64, error) {
	if !a.by.Authenticated() {
		return 0, refuse(ErrUnauthenticated, "not signed in")
	}
	var keep int64
	if a.by.Kind == auth.KindSession {
		keep = a.by.TokenID
	}
	return a.endSessions(ctx, a.by.UserID, keep)
}

// EndAllSessions ends every session of user id, as
// /v1/admin/users/sign-out-all-sessions does, and returns how many it
// ended. It takes the admin permission (a user ends its own with
// EndOtherSessions), and for root's sessions, root.
func (a Actor) EndAllSessions(ctx context.Context, id int64) (_ int64, err error) {
	if err := a.administer(); err != nil {
		return 0, err
	}
	defer a.recordRefusal(ctx, "users.end-sessions", id, &err)
	if err := a.checkEndSessions(id); err != nil {
		return 0, err
	}
	if _, err := a.m.load(ctx, id); err != nil {
		return 0, err
	}
	return a.endSessions(ctx, id, 0)
}

// checkEndSessions refuses ending user id's sessions to an actor who may
// not: it takes the admin permission for another's, and root's take root.
func (a Actor) checkEndSessions(id int64) error {
	if err := a.administerOrSelf(id); err != nil {
		return err
	}
	if id == auth.RootUserID && !a.by.IsRoot() {
		return refuse(ErrForbidden, "only root ends root's sessions")
	}
	return nil
}

// endSessions deletes the sessions of user id but keep (0: none), then
// drops each from the caches and closes its sockets, leaving keep's open.
// The ending is recorded in the audit trail (users.end-sessions) when it
// ended any.
func (a Actor) endSessions(ctx context.Context, id, keep int64) (int64, error) {
	m := a.m
	var ids []int64
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).
			Where("user_id = ?", id).
			Returning("id")
		if keep != 0 {
			q = q.Where("id <> ?", keep)
		}
		if _, err := q.Exec(ctx, &ids); err != nil {
			return fmt.Errorf("users: end sessions of user %d: %w", id, err)
		}
		if len(ids) == 0 {
			return nil
		}
		return a.record(ctx, tx, "users.end-sessions", id, map[string]any{"sessions": len(ids)})
	})
	if err != nil {
		return 0, err
	}
	if keep == 0 && len(ids) > 0 {
		for _, sid := range ids {
			m.activity.forget(sid)
		}
		m.reg.Auth().Invalidate(auth.Invalidation{UserID: id, Kind: auth.KindSession})
	} else {
		for _, sid := range ids {
			m.sessionEnded(id, sid)
		}
	}
	return int64(len(ids)), nil
}

// sessionNotFound refuses a session id that names no session of the user.
func sessionNotFound(id int64) *Error {
	return refuse(ErrNotFound, "session %q not found", strconv.FormatInt(id, 10))
}

// Sessions lists user id's open sessions, as the host (see Actor.Sessions).
func (m *Module) Sessions(ctx context.Context, id int64) ([]SessionInfo, error) {
	return m.host().Sessions(ctx, id)
}

// EndSession ends one of user id's sessions, as the host (see
// Actor.EndSession).
func (m *Module) EndSession(ctx context.Context, id, sessionID int64) error {
	return m.host().EndSession(ctx, id, sessionID)
}

// EndAllSessions ends every session of user id, as the host, and returns
// how many it ended (see Actor.EndAllSessions).
func (m *Module) EndAllSessions(ctx context.Context, id int64) (int64, error) {
	return m.host().EndAllSessions(ctx, id)
}
