package users

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/storage"
)

// Signing in through an OAuth provider (Options.OAuth): the identity the
// provider answers is linked to one user.

// OAuthSignIn is what a guest signs in with through a provider.
type OAuthSignIn struct {
	oauth.Credentials
	// Addr, UserAgent and AnyOf are SignIn's.
	Addr      string
	UserAgent string
	AnyOf     []string
}

// SignInOAuth completes an OAuth attempt (see oauth.Module.Exchange) and
// opens a session for the user the identity is linked to. An identity seen
// for the first time links to the existing user of its email only when the
// provider says the email is verified and the configuration allows it
// (oauth.Config.LinkVerifiedEmail, off by default); else, when no user has
// that email, it signs up a user without a password, while signup is open
// (Options.SignupEnabled); else it is refused (ErrConflict, ErrForbidden)
// and nothing is linked. The flow's refusals are ErrInvalid and
// ErrUnauthenticated with its message.
func (m *Module) SignInOAuth(ctx context.Context, in OAuthSignIn) (*Session, error) {
	if m.oauth == nil {
		return nil, refuse(ErrInvalid, "OAuth sign-in is not configured")
	}
	addr := auth.AddrKey(in.Addr)
	if err := limit(ctx, m.signinLim.addr, addr, "too many sign-in attempts from your address: try again later"); err != nil {
		return nil, err
	}
	id, err := m.oauth.Exchange(ctx, in.Credentials)
	if err != nil {
		return nil, oauthError(err)
	}
	row, err := m.identityUser(ctx, id, addr)
	if err != nil {
		return nil, err
	}
	if !row.Enabled {
		return nil, refuse(ErrUnauthenticated, "Bad credentials")
	}
	if err := checkSigninPermissions(m.principal(row, 0, time.Time{}), in.AnyOf); err != nil {
		return nil, err
	}
	// A provider's word is a first factor: a second one is still asked.
	if err := m.needSecondFactor(ctx, row); err != nil {
		return nil, err
	}
	m.rememberAddr(ctx, row, addr)
	return m.openSession(ctx, row, in.Addr, in.UserAgent)
}

// oauthError maps the flow's refusals to users' reasons.
func oauthError(err error) error {
	var e *oauth.Error
	if errors.As(err, &e) {
		switch e.Reason {
		case oauth.ErrInvalid:
			return refuse(ErrInvalid, "%s", e.Message)
		case oauth.ErrRefused:
			return refuse(ErrUnauthenticated, "%s", e.Message)
		}
	}
	return fmt.Errorf("users: oauth sign-in: %w", err)
}

// identityUser answers the user the identity is linked to, linking or
// signing up on its first sign-in.
func (m *Module) identityUser(ctx context.Context, id *oauth.Identity, addr string) (*userRow, error) {
	linked, err := m.findIdentity(ctx, m.db, id.Provider, id.Subject)
	if err != nil {
		return nil, err
	}
	if linked != nil {
		// The provider's email may have changed since.
		_, err := m.db.NewUpdate().Model((*Identity)(nil)).ModelTableExpr(m.identitiesTable()).
			Set("email = ?, email_verified = ?", id.Email, id.EmailVerified).Where("id = ?", linked.ID).Exec(ctx)
		if err != nil {
			m.log.WarnContext(ctx, "users: update identity email", "identity_id", linked.ID, "err", err)
		}
		return m.mustFind(ctx, linked.UserID)
	}
	email, _ := normalizeEmail(id.Email)
	if email != "" {
		owner, err := m.findByEmail(ctx, m.db, email, false)
		if err != nil {
			return nil, err
		}
		if owner != nil {
			return m.linkByEmail(ctx, id, owner)
		}
	}
	return m.signUpIdentity(ctx, id, email, addr)
}

// linkByEmail links a new identity to the user who has its email, when the
// provider verified the email and the host allows it.
func (m *Module) linkByEmail(ctx context.Context, id *oauth.Identity, owner *userRow) (*userRow, error) {
	if !id.EmailVerified {
		return nil, refuse(ErrConflict, "email %q belongs to an existing user and provider %q has not verified it: nothing was linked; sign in with your password and link the account from your profile", id.Email, id.Provider)
	}
	cfg, err := m.oauth.Config(ctx)
	if err != nil {
		return nil, err
	}
	if !cfg.LinkVerifiedEmail {
		return nil, refuse(ErrConflict, "email %q belongs to an existing user, and accounts are not linked by email here: sign in with your password first", id.Email)
	}
	if err := m.link(ctx, m.db, owner.ID, id); err != nil {
		return nil, err
	}
	return owner, nil
}

// signUpIdentity creates a user without a password for a new identity,
// with the email when the provider verified it, and links the identity.
func (m *Module) signUpIdentity(ctx context.Context, id *oauth.Identity, email, addr string) (*userRow, error) {
	if err := limit(ctx, m.signupLim, addr, "too many sign-ups from your address: try again later"); err != nil {
		return nil, err
	}
	if err := m.checkSignupOpen(ctx); err != nil {
		return nil, err
	}
	if !id.EmailVerified {
		email = "" // an address nobody proved is not given to the user
	}
	name, err := m.freeName(ctx, id, email)
	if err != nil {
		return nil, err
	}
	nu := &newUser{name: name, email: email, enabled: true, permissions: m.perms.Defaults(), noPassword: true}
	row, err := m.insertUser(ctx, nu, nil, "users.signup")
	if err != nil {
		return nil, err
	}
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if email != "" {
			if _, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
				Set("email_confirmed = TRUE").Where("id = ?", row.ID).Exec(ctx); err != nil {
				return fmt.Errorf("users: confirm email: %w", err)
			}
			row.EmailConfirmed = true
		}
		return m.link(ctx, tx, row.ID, id)
	})
	if err != nil {
		// The identity was linked meanwhile by another sign-in: no user for it.
		if _, derr := m.db.NewDelete().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Where("id = ?", row.ID).Exec(ctx); derr != nil {
			m.log.WarnContext(ctx, "users: remove the user of a failed oauth signup", "user_id", row.ID, "err", derr)
		}
		return nil, err
	}
	m.hooks.run(ctx, &m.hooks.signup, row)
	return row, nil
}

// freeName picks a user name for a new identity: the provider's name for
// the account, else the email, else the provider and subject, with a
// number after it when taken.
func (m *Module) freeName(ctx context.Context, id *oauth.Identity, email string) (string, error) {
	base := ""
	for _, c := range []string{id.Name, email, id.Provider + "-" + id.Subject} {
		if n, ok := normalizeUsername(c); ok {
			base = n
			break
		}
	}
	if base == "" {
		base = "user"
	}
	for i := 1; i <= 50; i++ {
		name := base
		if i > 1 {
			suffix := "-" + strconv.Itoa(i)
			name = strings.TrimSuffix(base[:min(len(base), maxNameLength-len(suffix))], "-") + suffix
		}
		if _, ok := normalizeUsername(name); !ok {
			continue
		}
		field, err := m.taken(ctx, m.db, 0, name, "", "")
		if err != nil {
			return "", err
		}
		if field == "" {
			return name, nil
		}
	}
	return "", refuse(ErrConflict, "no free user name for %q", base)
}

// link inserts the identity for the user.
func (m *Module) link(ctx context.Context, db bun.IDB, userID int64, id *oauth.Identity) error {
	row := &Identity{UserID: userID, Provider: id.Provider, Subject: id.Subject, Email: id.Email, Verified: id.EmailVerified, Created: m.stamp()}
	if _, err := db.NewInsert().Model(row).ModelTableExpr(m.identitiesTable()).Returning("id").Exec(ctx); err != nil {
		if storage.IsUniqueViolation(err) {
			return refuse(ErrConflict, "this %s account is linked to a user already", id.Provider)
		}
		return fmt.Errorf("users: link identity: %w", err)
	}
	return nil
}

func (m *Module) mustFind(ctx context.Context, id int64) (*userRow, error) {
	row, err := m.findByID(ctx, m.db, id, false)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, refuse(ErrUnauthenticated, "Bad credentials")
	}
	return row, nil
}

// openSession stores a new session for the user, as SignIn does after
// the password (the device remembered, a new one mailed about), and runs
// OnSignin's hooks.
func (m *Module) openSession(ctx context.Context, row *userRow, addr, userAgent string) (*Session, error) {
	dev := parseDevice(userAgent)
	newDevice := m.rememberDevice(ctx, row, dev, auth.AddrKey(addr))
	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		return nil, fmt.Errorf("users: signin: %w", err)
	}
	now := m.stamp()
	ses := &sessionRow{
		UserID: row.ID, Digest: digest, Created: now, Expires: now.Add(m.sessionTTL), LastActivity: now,
		RemoteAddress: addr, UserAgent: dev.UserAgent, Device: dev.Device, Browser: dev.Browser, OS: dev.OS,
	}
	if _, err := m.db.NewInsert().Model(ses).ModelTableExpr(m.tables.sessions).Returning("id").Exec(ctx); err != nil {
		return nil, fmt.Errorf("users: signin: create session: %w", err)
	}
	m.activity.seen(ses.ID, now)
	if newDevice {
		m.notify(row.Email, mailer.TemplateNewSignin, mailer.NoticeData{
			Username: row.Name, Time: now, Device: dev.Device, Browser: dev.Browser, OS: dev.OS, Address: addr,
		})
	}
	m.hooks.run(ctx, &m.hooks.signin, row)
	return &Session{ID: ses.ID, Token: token, User: row.user(), Created: ses.Created, Expires: ses.Expires}, nil
}

// verifyOAuth is the Verifier of OAuth credentials ({oauth_provider,
// oauth_code, oauth_redirect_url, oauth_state}) for Authorize: the attempt
// completed, and the identity it answers linked to u. It links, signs up
// and opens nothing; any other identity is ErrUnauthenticated.
func (m *Module) verifyOAuth(ctx context.Context, u *User, creds Credentials) error {
	var c oauth.Credentials
	for _, f := range []struct {
		name string
		dst  *string
	}{{"oauth_provider", &c.Provider}, {"oauth_code", &c.Code}, {"oauth_redirect_url", &c.RedirectURL}, {"oauth_state", &c.State}} {
		v, _, err := creds.String(f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	id, err := m.oauth.Exchange(ctx, c)
	if err != nil {
		return oauthError(err)
	}
	linked, err := m.findIdentity(ctx, m.db, id.Provider, id.Subject)
	if err != nil {
		return err
	}
	if linked == nil || linked.UserID != u.ID {
		return refuse(ErrUnauthenticated, "this %s account is not linked to you", id.Provider)
	}
	return nil
}
