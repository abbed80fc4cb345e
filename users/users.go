package users

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// Defaults for Options.
const (
	DefaultSessionTTL      = 30 * 24 * time.Hour
	DefaultCleanupInterval = time.Hour
)

// DefaultMaxConcurrentHashes bounds the argon2 runs of the default Hasher.
// Each holds 19 MiB, and the garbage collector lets the heap grow to about
// twice what is live, so a flood of sign-ins peaks near 2 × 19 MiB × this
// plus one more hash in flight: about 100 MiB with 2 (measured; 4 came to
// about 190 MiB). Two hashes at ~30 ms each still serve some 60 sign-ins a
// second, and a single argon2 run (p=1) uses one core.
const DefaultMaxConcurrentHashes = 2

// Default sign-in and sign-up rate limits (see Options).
var (
	DefaultSigninLimitPerName = rpc.RateLimit{Burst: 10, PerSecond: 1.0 / 6}
	DefaultSigninLimitPerAddr = rpc.RateLimit{Burst: 30, PerSecond: 1.0 / 2}
	DefaultSignupLimit        = rpc.RateLimit{Burst: 10, PerSecond: 1.0 / 30}
)

// ErrNotFound is returned by Lookup for a user that does not exist.
var ErrNotFound = errors.New("users: user not found")

// Options configure the module. The zero value is valid; every field
// documents its default.
type Options struct {
	// RootPassword is the root user's password when Mount creates root (the
	// first start on an empty database). Empty: a password is generated and
	// printed once to Out. It never overwrites the password of an existing
	// root: a value left in a deployment's environment would otherwise undo,
	// at every restart, a password root has since changed.
	RootPassword string

	// Out receives the generated root password, once. Default os.Stderr.
	Out io.Writer

	// SessionTTL is how long a session lasts after sign-in. Default 30 days.
	SessionTTL time.Duration

	// CleanupInterval is how often expired sessions are deleted (they stop
	// working when they expire; this only reclaims the rows). Default 1 hour.
	CleanupInterval time.Duration

	// Hasher hashes and verifies passwords; its options also set the minimum
	// password length. Default: argon2id with OWASP's parameters (19 MiB,
	// t=2, p=1), passwords of 8 to 1024 characters, and at most
	// DefaultMaxConcurrentHashes hashes at once.
	Hasher *auth.Hasher

	// SigninLimitPerName limits sign-in attempts per user name (whether or
	// not the user exists); a success refills the name's bucket. Default
	// DefaultSigninLimitPerName: 10 at once, then one per 6 s.
	// A negative Burst turns the limit off.
	SigninLimitPerName rpc.RateLimit

	// SigninLimitPerAddr limits sign-in attempts per client address (the
	// connection's, or the registry's TrustedProxyHeader's). Default
	// DefaultSigninLimitPerAddr: 30 at once, then one per 2 s.
	// A negative Burst turns the limit off.
	SigninLimitPerAddr rpc.RateLimit

	// SignupLimit limits sign-ups per client address. Default
	// DefaultSignupLimit: 10 at once, then one per 30 s. A negative Burst
	// turns the limit off.
	SignupLimit rpc.RateLimit

	// SignupEnabled says whether /v1/session/signup is open; the settings
	// module supplies it. Nil: always open.
	SignupEnabled func(ctx context.Context) (bool, error)

	// Mailer sends the mails of /v1/session/send-confirmation-email and
	// send-password-reset-email: the templates mailer.TemplateConfirmEmail
	// and mailer.TemplateResetPassword with a mailer.LinkData. The settings
	// module's Mailer method fits. Nil: those two methods answer 400 "mail
	// is not configured".
	Mailer Mailer

	// AppURL returns the base of the links in those mails; the settings
	// module's AppURL method (the app_url setting) fits. Links never come
	// from the request's Host header. Nil, or an error or a URL that is not
	// absolute http(s): the two send methods answer 400 "mail is not
	// configured" (and the cause is logged).
	AppURL func(ctx context.Context) (string, error)

	// ConfirmEmailPath and ResetPasswordPath follow the app URL in the
	// links, before "?token=…": "<app_url>/confirm-email?token=cnf_…".
	// They start with "/" and may hold a query of their own. Defaults
	// DefaultConfirmEmailPath and DefaultResetPasswordPath.
	ConfirmEmailPath  string
	ResetPasswordPath string

	// ConfirmEmailTTL and ResetPasswordTTL are how long the links work.
	// Defaults 24 hours and 1 hour.
	ConfirmEmailTTL  time.Duration
	ResetPasswordTTL time.Duration

	// EmailLimitPerUser limits each send method per user name or email as
	// given (whether or not such a user exists, so that the 429 tells
	// nothing); the mails one user receives are capped alike, silently,
	// whichever of their names they were asked for by. Default
	// DefaultEmailLimitPerUser: 3 at once, then one per 5 minutes. A
	// negative Burst turns the limit off.
	EmailLimitPerUser rpc.RateLimit

	// EmailLimitPerAddr limits the two send methods together per client
	// address. Default DefaultEmailLimitPerAddr: 20 at once, then one per
	// 15 s. A negative Burst turns the limit off.
	EmailLimitPerAddr rpc.RateLimit

	// KeepTokensOnAdminSetPassword keeps a user's API tokens (and whatever
	// else other modules end through OnCredentialsReset) when an
	// administrator sets the password (set-password, set-username with a
	// new password); the user's sessions end still. Default false: they end
	// too. A reset by mail (set-password-by-token) always ends them.
	KeepTokensOnAdminSetPassword bool

	// Now tells the time; tests set it. Default time.Now.
	Now func() time.Time
}

// Module is the mounted users module: users administration, the profile and
// sessions. Other modules use it to look users up.
type Module struct {
	reg        *rpc.Registry
	db         *bun.DB
	perms      *auth.Permissions
	log        *slog.Logger
	hasher     *auth.Hasher
	now        func() time.Time
	sessionTTL time.Duration
	signupOpen func(ctx context.Context) (bool, error)

	byName *auth.Limiter // nil when off
	byAddr *auth.Limiter // nil when off

	mail *mailFlows

	resets                       resetHooks
	keepTokensOnAdminSetPassword bool

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// User is a user record as other modules see it. Optional fields are empty
// when unset.
type User struct {
	ID             int64
	Name           string
	Email          string
	EmailConfirmed bool
	TelegramName   string
	Enabled        bool
	// Permissions are as stored: the names set to true, possibly including
	// names no longer declared. See Module.Permissions for what they mean.
	Permissions map[string]bool
	Created     time.Time
}

// IsRoot reports whether u is the root user.
func (u *User) IsRoot() bool { return u.ID == auth.RootUserID }

// Mount runs the module's migrations, creates the root user on first start,
// registers the /v1/admin/users, /v1/profile and /v1/session methods on reg
// and the session authenticator on reg.Auth(), and starts the expired-session
// cleanup, which Close stops.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	m := &Module{
		reg:        reg,
		db:         db,
		perms:      reg.Permissions(),
		log:        reg.Logger(),
		hasher:     opts.Hasher,
		now:        opts.Now,
		sessionTTL: opts.SessionTTL,
		signupOpen: opts.SignupEnabled,

		keepTokensOnAdminSetPassword: opts.KeepTokensOnAdminSetPassword,
	}
	if m.hasher == nil {
		m.hasher = auth.NewHasher(auth.HasherOptions{MaxConcurrent: DefaultMaxConcurrentHashes})
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.sessionTTL <= 0 {
		m.sessionTTL = DefaultSessionTTL
	}
	out := opts.Out
	if out == nil {
		out = os.Stderr
	}
	m.byName = m.limiter(opts.SigninLimitPerName, DefaultSigninLimitPerName)
	m.byAddr = m.limiter(opts.SigninLimitPerAddr, DefaultSigninLimitPerAddr)
	signupLimit := rateLimitOr(opts.SignupLimit, DefaultSignupLimit)
	mail, err := m.newMailFlows(ctx, opts)
	if err != nil {
		return nil, err
	}
	m.mail = mail

	if err := storage.Migrate(ctx, db, "users", migrations(m.log), storage.WithLogger(m.log)); err != nil {
		return nil, fmt.Errorf("users: mount: %w", err)
	}
	if storage.IsPostgres(db) {
		m.checkSearchIndexes(ctx)
	}
	if err := m.ensureRoot(ctx, opts.RootPassword, out); err != nil {
		return nil, fmt.Errorf("users: mount: %w", err)
	}

	m.registerAdmin()
	m.registerProfile()
	m.registerSession(signupLimit)
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(m.authenticate))

	interval := opts.CleanupInterval
	if interval <= 0 {
		interval = DefaultCleanupInterval
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop, m.done = stop, make(chan struct{})
	go m.cleanupLoop(bg, interval)
	m.startMail()
	return m, nil
}

// Close stops the background cleanup of expired sessions and tokens, waits
// for the mails in flight to be sent, and waits for both until ctx ends
// (then the mails are canceled). The methods stay registered, but send no
// more mail; the database stays open.
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(m.stop)
	if err := m.closeMail(ctx); err != nil {
		return err
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("users: close: %w", ctx.Err())
	}
}

// Lookup returns the user with the given id, or ErrNotFound.
func (m *Module) Lookup(ctx context.Context, id int64) (*User, error) {
	row, err := m.findByID(ctx, m.db, id, false)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, ErrNotFound
	}
	return row.user(), nil
}

// Permissions returns u's effective permissions: the declared ones u holds,
// each set to true. Root holds every declared permission.
func (m *Module) Permissions(u *User) map[string]bool {
	if u.IsRoot() {
		return m.perms.All()
	}
	out := make(map[string]bool, len(u.Permissions))
	for name, on := range u.Permissions {
		if _, declared := m.perms.Lookup(name); declared && on {
			out[name] = true
		}
	}
	return out
}

func (m *Module) limiter(l, def rpc.RateLimit) *auth.Limiter {
	l = rateLimitOr(l, def)
	if l.Burst < 0 {
		return nil
	}
	return auth.NewLimiter(auth.LimiterOptions{Rate: l.PerSecond, Burst: l.Burst, Now: m.now})
}

// rateLimitOr fills a zero limit, or a zero field of one, from def.
func rateLimitOr(l, def rpc.RateLimit) rpc.RateLimit {
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.PerSecond <= 0 {
		l.PerSecond = def.PerSecond
	}
	return l
}

// cleanupLoop deletes expired sessions and one-time tokens now and then,
// until ctx ends.
func (m *Module) cleanupLoop(ctx context.Context, every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := m.deleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("users: delete expired sessions", "err", err)
		}
		if _, err := m.deleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("users: delete expired tokens", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stamp is the time to store: UTC, to the microsecond both databases keep,
// so that an answer made before storing matches what a later read returns.
func (m *Module) stamp() time.Time {
	return m.now().UTC().Truncate(time.Microsecond)
}
