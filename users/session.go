package users

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

const signinDescription = "If `credentials` parameter is specified - will try to sign in user using username and password, otherwise will try to sign in user, using currently used api token.\n\n" +
	"**Returns**:\n\n" +
	"-   `200`: Sign in successfully.\n\n" +
	"-   `401`: Bad credentials.\n\n" +
	"-   `403`: Not authorized.\n\n" +
	"-   Any other status means bad request, internal or connection error. Refer to the response `statusText` property for more information."

// credentials is the first parameter of signin.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// signupFields is the parameter of signup.
type signupFields struct {
	Username     string  `json:"username"`
	Password     *string `json:"password,omitempty"`
	Email        *string `json:"email,omitempty"`
	TelegramName *string `json:"telegram_name,omitempty"`
}

// signinAnswer is what signin answers: a new session's token (only when
// credentials were given) and who the caller is.
type signinAnswer struct {
	Token string   `json:"token,omitempty"`
	Auth  authInfo `json:"auth"`
	// Settings is read by @softvisio/core front ends after sign-in. Always
	// an empty object; the application's settings are admin/settings/read.
	Settings struct{} `json:"settings"`
}

type authInfo struct {
	// IsAuthenticated is read by @softvisio/core's session store to tell a
	// signed-in caller. Always true, as signin answers only those.
	IsAuthenticated bool            `json:"is_authenticated"`
	UserID          int64           `json:"user_id,string"`
	Username        string          `json:"username"`
	Permissions     map[string]bool `json:"permissions"`
	Email           *string         `json:"email"`
	EmailConfirmed  bool            `json:"email_confirmed"`
	TelegramName    *string         `json:"telegram_name"`
	// Expires is when the session (or API token) stops working; absent if never.
	Expires  *time.Time `json:"expires,omitempty"`
	Gravatar string     `json:"gravatar"`
	Avatar   *string    `json:"avatar"`
}

var errBadCredentials = rpc.Unauthorized("Bad credentials")

func (m *Module) registerSession() {
	mod := m.reg.Section("/v1/session", "Session")
	mod.Register(rpc.Method{
		ID:          "signin",
		Title:       "Signin",
		Description: signinDescription,
		Permissions: []string{auth.Anyone},
		Params: []rpc.Param{
			{Name: "credentials?"},
			{
				Name:        "signin_permissions?",
				Description: "Array of permissions. Only user, who has this permissions can sign in. If `null` permissions will not check.",
				Schema: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
					{Type: "null"},
					{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
				}},
			},
		},
		Handler: m.signin,
		// A void sign-in would make a session whose token nobody receives.
		NoVoid: true,
	})
	mod.Register(rpc.Method{
		ID:          "signout",
		Title:       "Signout",
		Description: "Ends the session the call was made with. Other sessions and API tokens are left alone.",
		Permissions: []string{auth.Anyone},
		Handler:     m.signout,
	})
	mod.Register(rpc.Method{
		ID:          "signup",
		Title:       "Signup",
		Description: "Creates an enabled user from `fields` (`username`, `password`, `email` optional) and answers without data. 409 when the name or email is taken, with one message for either; 403 while signup is closed, as it is until the host opens it (the `signup_enabled` setting).",
		Permissions: []string{auth.Anyone},
		Params:      []rpc.Param{{Name: "fields"}},
		Handler:     m.signup,
		// The limit is the handler's, not the registry's RateLimit: this
		// one is shared by the instances.
	})
	m.registerEmail(mod)
}

// signin opens a session for the credentials, or, without them, describes
// the caller (a session or an API token).
func (m *Module) signin(ctx context.Context, creds *credentials, signinPerms *[]string) (signinAnswer, error) {
	if creds == nil {
		return m.describe(ctx, signinPerms)
	}
	name := strings.ToLower(creds.Username)
	keys := signinKeys(name, clientAddr(ctx))
	if err := m.signinLim.check(ctx, keys); err != nil {
		return signinAnswer{}, err
	}

	row, err := m.checkCredentials(ctx, name, keys.addr, creds.Password)
	if err != nil {
		return signinAnswer{}, busy(err)
	}
	if row == nil {
		return signinAnswer{}, errBadCredentials
	}
	p := m.principal(row, 0, time.Time{})
	if signinPerms != nil && !p.Allowed(*signinPerms) {
		return signinAnswer{}, rpc.Forbidden("Not authorized: signing in here takes one of the permissions %s", quoteList(*signinPerms))
	}
	m.signinLim.succeeded(ctx, m.log, keys)
	m.rememberAddr(ctx, row, keys.addr)

	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		return signinAnswer{}, fmt.Errorf("users: signin: %w", err)
	}
	now := m.stamp()
	ses := &sessionRow{UserID: row.ID, Digest: digest, Created: now, Expires: now.Add(m.sessionTTL)}
	if _, err := m.db.NewInsert().Model(ses).ModelTableExpr(m.tables.sessions).Returning("id").Exec(ctx); err != nil {
		return signinAnswer{}, fmt.Errorf("users: signin: create session: %w", err)
	}
	info := m.authInfo(row, m.permissionsView(row))
	info.Expires = &ses.Expires
	m.hooks.run(ctx, &m.hooks.signin, row)
	return signinAnswer{Token: token, Auth: info}, nil
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

// describe answers signin without credentials: who the caller is.
func (m *Module) describe(ctx context.Context, signinPerms *[]string) (signinAnswer, error) {
	p := auth.FromContext(ctx)
	if !p.Authenticated() {
		return signinAnswer{}, rpc.Unauthorized("Not authenticated")
	}
	row, err := m.findByID(ctx, m.db, p.UserID, false)
	if err != nil {
		return signinAnswer{}, err
	}
	if row == nil || !row.Enabled {
		return signinAnswer{}, rpc.Unauthorized("Not authenticated")
	}
	if signinPerms != nil && !p.Allowed(*signinPerms) {
		return signinAnswer{}, rpc.Forbidden("Not authorized: signing in here takes one of the permissions %s", quoteList(*signinPerms))
	}
	info := m.authInfo(row, m.callerView(p))
	if !p.ExpiresAt.IsZero() {
		exp := p.ExpiresAt.UTC()
		info.Expires = &exp
	}
	return signinAnswer{Auth: info}, nil
}

func (m *Module) authInfo(row *userRow, perms map[string]bool) authInfo {
	g := gravatar(row.Email, row.Name)
	return authInfo{
		IsAuthenticated: true,
		Gravatar:        g,
		Avatar:          m.avatar(g),
		UserID:          row.ID,
		Username:        row.Name,
		Permissions:     perms,
		Email:           optional(row.Email),
		EmailConfirmed:  row.EmailConfirmed,
		TelegramName:    optional(row.TelegramName),
	}
}

// signout ends the caller's session. A guest gets 404, which existing
// clients expect: there is no session to end; an API token gets 204: nothing
// changed.
func (m *Module) signout(ctx context.Context) (rpc.Result, error) {
	p := auth.FromContext(ctx)
	if !p.Authenticated() {
		return rpc.Result{}, rpc.NotFound("no session to sign out of")
	}
	if p.Kind != auth.KindSession {
		return rpc.NoContent(), nil
	}
	res, err := m.db.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).Where("id = ?", p.TokenID).Exec(ctx)
	if err != nil {
		return rpc.Result{}, fmt.Errorf("users: signout: %w", err)
	}
	m.reg.Auth().Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: p.TokenID})
	if n, _ := res.RowsAffected(); n == 0 {
		return rpc.NoContent(), nil
	}
	return rpc.Result{}, nil
}

// checkSignupOpen refuses a signup while Options.SignupEnabled says no, or
// is nil.
func (m *Module) checkSignupOpen(ctx context.Context) error {
	if m.signupOpen == nil {
		return rpc.Forbidden("signup is disabled")
	}
	open, err := m.signupOpen(ctx)
	if err != nil {
		return fmt.Errorf("users: signup: is signup enabled: %w", err)
	}
	if !open {
		return rpc.Forbidden("signup is disabled")
	}
	return nil
}

// signup creates an enabled user holding the default permissions.
func (m *Module) signup(ctx context.Context, f signupFields) error {
	if err := limit(ctx, m.signupLim, auth.AddrKey(clientAddr(ctx)), "too many sign-ups from your address: try again later"); err != nil {
		return err
	}
	if err := m.checkSignupOpen(ctx); err != nil {
		return err
	}
	nu, rerr := m.newUserFields(f.Username, f.Password, f.Email, f.TelegramName)
	if rerr != nil {
		return rerr
	}
	nu.enabled = true
	nu.permissions = m.perms.Defaults()
	ctx = hashCtx(ctx, auth.HashPriorityNormal)
	if nu.password == "" {
		// No password: the account is usable once one is set (by an
		// administrator, or through a password reset).
		nu.noPassword = true
	}
	row, err := m.insertUser(ctx, nu)
	var taken *rpc.Error
	if errors.As(err, &taken) && taken.Code == http.StatusConflict {
		return signupTaken(nu)
	}
	if err != nil {
		return busy(err)
	}
	m.hooks.run(ctx, &m.hooks.signup, row)
	return nil
}

// signupTaken answers a signup whose name, email or telegram name another
// user has, alike whichever it is: naming it would tell anybody whether an
// email address has an account here. It names the fields given.
func signupTaken(nu *newUser) *rpc.Error {
	fields := []string{"user name"}
	if nu.email != "" {
		fields = append(fields, "email")
	}
	if nu.telegram != "" {
		fields = append(fields, "telegram name")
	}
	list := fields[0]
	if n := len(fields); n > 1 {
		list = strings.Join(fields[:n-1], ", ") + " or " + fields[n-1]
	}
	return rpc.Conflict("the %s is already taken", list)
}

// authenticate resolves a session token: the Authenticator for KindSession.
// A session that is unknown or expired, or whose user is disabled, does not
// authenticate; the Mux caches the answer until ExpiresAt or an Invalidate.
func (m *Module) authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	var r struct {
		SessionID   int64           `bun:"session_id"`
		Expires     time.Time       `bun:"expires"`
		UserID      int64           `bun:"user_id"`
		Name        string          `bun:"name"`
		Enabled     bool            `bun:"enabled"`
		Permissions map[string]bool `bun:"permissions"`
	}
	err := m.db.NewSelect().
		TableExpr(m.tables.sessions).
		Join("JOIN "+m.tables.users+" ON u.id = s.user_id").
		ColumnExpr("s.id AS session_id, s.expires, u.id AS user_id, u.name, u.enabled, u.permissions").
		Where("s.digest = ?", auth.Digest(token)).
		Scan(ctx, &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("users: authenticate session: %w", err)
	}
	if !r.Enabled || !m.now().Before(r.Expires) {
		return nil, auth.ErrUnknownToken
	}
	row := &userRow{ID: r.UserID, Name: r.Name, Enabled: r.Enabled, Permissions: r.Permissions}
	return m.principal(row, r.SessionID, r.Expires.UTC()), nil
}

// principal is the caller a session of row stands for.
func (m *Module) principal(row *userRow, sessionID int64, expires time.Time) *auth.Principal {
	perms := m.perms.All()
	if row.ID != auth.RootUserID {
		perms = m.declaredOnly(row.Permissions)
	}
	return &auth.Principal{
		UserID:      row.ID,
		Username:    row.Name,
		Kind:        auth.KindSession,
		TokenID:     sessionID,
		Permissions: perms,
		ExpiresAt:   expires,
	}
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
		b.WriteString(rpc.Quote(n))
	}
	if b.Len() == 0 {
		return "(none listed)"
	}
	return b.String()
}
