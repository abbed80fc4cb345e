package users

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/quote"
)

// Signing in and out: sessions.

// SignIn is what a user signs in with.
type SignIn struct {
	Username string
	Password string
	// Addr is the client's address (rpc.Call.ClientAddr): the sign-in
	// limits and the hashing queue key on it, and the user's known
	// addresses are remembered by it.
	Addr string
	// UserAgent is the client's User-Agent header (rpc.Call.UserAgent),
	// stored with the session and parsed into its device, browser and OS
	// for the session list.
	UserAgent string
	// AnyOf, when not nil, are permission tags of which the user must hold
	// one (auth.Principal.Allowed), else the sign-in is refused with
	// ErrForbidden and no session: a console for administrators, say. An
	// empty, non-nil AnyOf refuses everyone.
	AnyOf []string
}

// Session is a session opened by SignIn.
type Session struct {
	ID int64
	// Token is the session's bearer token. Only SignIn returns it: only its
	// digest is stored.
	Token   string
	User    *User
	Created time.Time
	Expires time.Time
}

// SignIn opens a session for the credentials, as /v1/session/signin does.
// An unknown user, a wrong password and a disabled user are refused alike
// with ErrUnauthenticated, after the same argon2 work; the sign-in limits
// refuse with ErrLimited (see Options), a full hashing queue with
// auth.ErrBusy. OnSignin's hooks run after the session is stored. A user
// with a second factor (see Verifier) gets no session: ErrUnauthenticated
// with Error.SecondFactor, to complete with CompleteSignIn.
func (m *Module) SignIn(ctx context.Context, in SignIn) (*Session, error) {
	name := strings.ToLower(in.Username)
	keys := signinKeys(name, in.Addr)
	if err := m.signinLim.check(ctx, keys); err != nil {
		return nil, err
	}

	row, err := m.checkCredentials(ctx, name, keys.addr, in.Password)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, refuse(ErrUnauthenticated, "Bad credentials")
	}
	if err := checkSigninPermissions(m.principal(row, 0, time.Time{}), in.AnyOf); err != nil {
		return nil, err
	}
	// A user with a second factor: the password is not enough, and its
	// attempt is not forgiven (no refill) until the factor is right.
	if err := m.needSecondFactor(ctx, row); err != nil {
		return nil, err
	}
	m.signinLim.succeeded(ctx, m.log, keys)
	m.rememberAddr(ctx, row, keys.addr)
	return m.openSession(ctx, row, in.Addr, in.UserAgent)
}

// checkSigninPermissions refuses p unless anyOf is nil or p holds one of
// its tags.
func checkSigninPermissions(p *auth.Principal, anyOf []string) error {
	if anyOf != nil && !p.Allowed(anyOf) {
		return refuse(ErrForbidden, "Not authorized: signing in here takes one of the permissions %s", quoteList(anyOf))
	}
	return nil
}

// checkCredentials returns the enabled user that name and password sign in
// as from the address addr (an address key), or nil. An unknown user, a
// wrong password and a disabled user cost the same lookup and argon2 work,
// wait for the hasher alike, and look the same to the caller.
func (m *Module) checkCredentials(ctx context.Context, name, addr, password string) (*userRow, error) {
	var row *userRow
	if valid, ok := normalizeUsername(name); ok {
		var err error
		if row, err = m.findByName(ctx, m.db, valid, false); err != nil {
			return nil, err
		}
	}
	ctx = auth.WithHashClaim(ctx, auth.HashClaim{Key: addr, Priority: m.signinPriority(row, addr)})
	if row == nil || row.PasswordHash == "" {
		// No user, or one who has no password yet: do the work anyway.
		if err := m.hasher.VerifyDummy(ctx, password); err != nil {
			return nil, fmt.Errorf("users: signin: %w", err)
		}
		return nil, nil
	}
	ok, err := m.hasher.Verify(ctx, password, row.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("users: signin: user %d: %w", row.ID, err)
	}
	if !ok || !row.Enabled {
		return nil, nil
	}
	if m.hasher.NeedsRehash(row.PasswordHash) {
		m.rehash(ctx, row, password)
	}
	return row, nil
}

// rehash replaces a hash made with older parameters, now that the password
// is known. A failure only means it is tried again at the next sign-in.
func (m *Module) rehash(ctx context.Context, row *userRow, password string) {
	hash, err := m.hasher.Hash(ctx, password)
	if err != nil {
		m.log.WarnContext(ctx, "users: rehash password", "user_id", row.ID, "err", err)
		return
	}
	_, err = m.db.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
		Set("password_hash = ?", hash).
		Where("id = ? AND password_hash = ?", row.ID, row.PasswordHash).
		Exec(ctx)
	if err != nil {
		m.log.WarnContext(ctx, "users: rehash password", "user_id", row.ID, "err", err)
	}
}

// SignOut ends the session the actor acts with and reports whether it was
// still there. A guest is refused with ErrNotFound: there is no session to
// end; an API token ends nothing.
func (a Actor) SignOut(ctx context.Context) (bool, error) {
	p := a.by
	if !p.Authenticated() {
		return false, refuse(ErrNotFound, "no session to sign out of")
	}
	if p.Kind != auth.KindSession {
		return false, nil
	}
	m := a.m
	res, err := m.db.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).Where("id = ?", p.TokenID).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("users: signout: %w", err)
	}
	m.sessionEnded(p.UserID, p.TokenID)
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// limiterKey keys the per-name limit; long names (never valid ones) are
// digested so that a flood of them cannot fill the limiter with large keys.
func limiterKey(name string) string {
	if len(name) <= maxEmailLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "#" + hex.EncodeToString(sum[:])
}

func quoteList(names []string) string {
	const most = 5
	var b strings.Builder
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(names)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote.Short(n))
	}
	if b.Len() == 0 {
		return "(none listed)"
	}
	return b.String()
}
