package users

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// The session list's methods: a user's own under /v1/profile, anyone's
// under /v1/admin/users. Adapters over Actor.Sessions, EndSession,
// EndOtherSessions and EndAllSessions (sessions.go).

// sessionRecord is a session as the lists answer it.
type sessionRecord struct {
	ID            int64     `json:"id,string"`
	Current       bool      `json:"current"`
	Created       time.Time `json:"created"`
	LastActivity  time.Time `json:"last_activity"`
	Expires       time.Time `json:"expires"`
	RemoteAddress *string   `json:"remote_address"`
	UserAgent     *string   `json:"user_agent"`
	Device        *string   `json:"device"`
	Browser       *string   `json:"browser"`
	OS            *string   `json:"os"`
}

func sessionRecords(list []SessionInfo) []sessionRecord {
	out := make([]sessionRecord, len(list))
	for i, s := range list {
		out[i] = sessionRecord{
			ID: s.ID, Current: s.Current, Created: s.Created, LastActivity: s.LastActivity, Expires: s.Expires,
			RemoteAddress: optional(s.RemoteAddress), UserAgent: optional(s.UserAgent),
			Device: optional(s.Device), Browser: optional(s.Browser), OS: optional(s.OS),
		}
	}
	return out
}

const sessionRowsText = "Rows `{id, current, created, last_activity, expires, remote_address, user_agent, device, browser, os}`, the most recently active first: `id` is the session's id (never its token), `current` marks the session the call was made with, `last_activity` is written at most once a minute, `remote_address` and `user_agent` are the sign-in's, and `device`, `browser` and `os` are parsed from the user agent (null when it says nothing)."

var sessionIDParam = rpc.Param{Name: "session_id", Description: "Session id, as get-sessions answers it."}

// registerProfileSessions registers the caller's own session methods.
func (m *Module) registerProfileSessions(mod *rpc.Section) {
	user := []string{auth.User}
	mod.Register(rpc.Method{
		ID: "get-sessions", Title: "Get sessions", Permissions: user,
		Description: "Answers the caller's open sessions. " + sessionRowsText,
		Handler:     m.profileGetSessions,
	})
	mod.Register(rpc.Method{
		ID: "sign-out-session", Title: "Sign out session", Permissions: user,
		Description: "Ends one of the caller's sessions (the current one too): its sockets close with code 4000 on every instance, the other sessions go on. 404 when the session is not the caller's.",
		Params:      []rpc.Param{sessionIDParam},
		Handler:     m.profileSignOutSession,
	})
	mod.Register(rpc.Method{
		ID: "sign-out-all-sessions", Title: "Sign out all sessions", Permissions: user,
		Description:          "Ends every session of the caller's but the current one; their sockets close with code 4000 on every instance. API tokens are left alone.",
		Handler:              m.profileSignOutAllSessions,
		RequireAuthorization: true,
	})
}

// registerAdminSessions registers the administrators' session methods.
func (m *Module) registerAdminSessions(mod *rpc.Section) {
	admin := []string{m.adminPerm}
	userID := rpc.Param{Name: "user_id", Description: "User id or name."}
	mod.Register(rpc.Method{
		ID: "get-sessions", Title: "Get user sessions", Permissions: admin,
		Description: "Answers the user's open sessions. " + sessionRowsText,
		Params:      []rpc.Param{userID},
		Handler:     m.adminGetSessions,
	})
	mod.Register(rpc.Method{
		ID: "sign-out-session", Title: "Sign out user session", Permissions: admin,
		Description: "Ends one of the user's sessions: its sockets close with code 4000 on every instance, the user's other sessions go on. 404 when the session is not the user's. Only root ends root's.",
		Params:      []rpc.Param{userID, sessionIDParam},
		Handler:     m.adminSignOutSession,
	})
	mod.Register(rpc.Method{
		ID: "sign-out-all-sessions", Title: "Sign out all user sessions", Permissions: admin,
		Description: "Ends every session of the user's; their sockets close with code 4000 on every instance. API tokens are left alone. Only root ends root's.",
		Params:      []rpc.Param{userID},
		Handler:     m.adminSignOutAllSessions,
	})
}

func (m *Module) profileGetSessions(ctx context.Context) ([]sessionRecord, error) {
	caller := auth.FromContext(ctx)
	list, err := m.As(caller).Sessions(ctx, caller.UserID)
	if err != nil {
		return nil, rpcError(err)
	}
	return sessionRecords(list), nil
}

func (m *Module) profileSignOutSession(ctx context.Context, sessionID string) error {
	id, e := parseSessionID(sessionID)
	if e != nil {
		return e
	}
	caller := auth.FromContext(ctx)
	return rpcError(m.As(caller).EndSession(ctx, caller.UserID, id))
}

// profileSignOutAllSessions answers 200, or 204 when there was no other
// session to end.
func (m *Module) profileSignOutAllSessions(ctx context.Context) (rpc.Result, error) {
	n, err := m.As(auth.FromContext(ctx)).EndOtherSessions(ctx)
	return changedResult(n > 0, err)
}

func (m *Module) adminGetSessions(ctx context.Context, userID string) ([]sessionRecord, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return nil, err
	}
	list, err := m.As(auth.FromContext(ctx)).Sessions(ctx, row.ID)
	if err != nil {
		return nil, rpcError(err)
	}
	return sessionRecords(list), nil
}

func (m *Module) adminSignOutSession(ctx context.Context, userID, sessionID string) error {
	id, e := parseSessionID(sessionID)
	if e != nil {
		return e
	}
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return err
	}
	return rpcError(m.As(auth.FromContext(ctx)).EndSession(ctx, row.ID, id))
}

func (m *Module) adminSignOutAllSessions(ctx context.Context, userID string) (rpc.Result, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	n, err := m.As(auth.FromContext(ctx)).EndAllSessions(ctx, row.ID)
	return changedResult(n > 0, err)
}

// parseSessionID parses a session_id parameter: the decimal digits of a
// positive 64-bit id. Anything else cannot be a session id at all, and is
// a 400 rather than a 404, so that a client sending a token learns why.
func parseSessionID(s string) (int64, *rpc.Error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, rpc.BadRequest("session_id %s is not a session id: send the id's decimal digits as a string, such as \"100\"", rpc.Quote(s))
}
