package users

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// Defaults for Options.
const (
	DefaultAdminPermission = "admin"
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
	DefaultSigninLimitPerNameAddr = rpc.RateLimit{Burst: 5, PerSecond: 1.0 / 60}
	DefaultSigninLimitPerAddr     = rpc.RateLimit{Burst: 30, PerSecond: 1.0 / 2}
	DefaultSigninLimitPerName     = rpc.RateLimit{Burst: 10, PerSecond: 1.0 / 6}
	DefaultSigninLimitUnderAttack = rpc.RateLimit{Burst: 2, PerSecond: 1.0 / 1800}
	DefaultSignupLimit            = rpc.RateLimit{Burst: 10, PerSecond: 1.0 / 30}
)

// SignupOpen fits Options.SignupEnabled: signup is always open.
func SignupOpen(context.Context) (bool, error) { return true, nil }

// Options configure the module. The zero value is valid; every field
// documents its default.
type Options struct {
	// AdminPermission is the permission tag the /v1/admin/users methods
	// require. It must be declared (rpc.Options.Permissions) before Mount,
	// which fails otherwise. Default DefaultAdminPermission, "admin".
	AdminPermission string

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

	// CleanupInterval is how often expired sessions, mailed links,
	// second-factor tokens and passkey ceremonies, and refilled rate-limit
	// buckets, are deleted, after a first round in Mount (they stop working
	// when they expire; this only reclaims the rows). Default 1 hour.
	CleanupInterval time.Duration

	// Hasher hashes and verifies passwords; its options also set the minimum
	// password length. Default: argon2id with OWASP's parameters (19 MiB,
	// t=2, p=1), passwords of 8 to 1024 characters, and at most
	// DefaultMaxConcurrentHashes hashes at once. The module puts an
	// auth.HashClaim on every call's context: keyed by the client address,
	// ahead for a sign-in from an address the user signed in from before
	// and for signed-in callers, behind for an address that keeps trying.
	Hasher *auth.Hasher

	// Sign-in is limited so that guessing is slow, and so that an attacker
	// cannot lock somebody else out: the right password from an address
	// that has not been failing signs in while others hammer the name. The
	// pair of name and address is throttled hard; the name alone only
	// softly: once its budget is spent, the name counts as under attack and
	// every address may still try it, but only at SigninLimitUnderAttack.
	// Guesses at one name are then bounded by its budget plus, per address
	// an attacker holds (an IPv6 /64 counts as one), SigninLimitUnderAttack
	// and SigninLimitPerAddr; the owner from any fresh address gets in.
	// Each limit counts attempts whatever their outcome, and whether or not
	// the user exists; a success refills its pair's buckets. A negative
	// Burst turns a limit off. Unless LocalLimits, the counters live in the
	// database (storage.Limits), shared by every instance on it.

	// SigninLimitPerNameAddr limits attempts at one user name from one
	// client address. Default DefaultSigninLimitPerNameAddr: 5 at once,
	// then one a minute.
	SigninLimitPerNameAddr rpc.RateLimit

	// SigninLimitPerAddr limits attempts at any names from one client
	// address (the connection's, or the registry's TrustedProxyHeader's).
	// Default DefaultSigninLimitPerAddr: 30 at once, then one per 2 s.
	SigninLimitPerAddr rpc.RateLimit

	// SigninLimitPerName is the budget of attempts at one user name from all
	// addresses together; past it the name is under attack. Default
	// DefaultSigninLimitPerName: 10 at once, then one per 6 s.
	SigninLimitPerName rpc.RateLimit

	// SigninLimitUnderAttack limits attempts at a name under attack from
	// one address. Default DefaultSigninLimitUnderAttack: 2, then one per
	// 30 minutes.
	SigninLimitUnderAttack rpc.RateLimit

	// SignupLimit limits sign-ups per client address. Default
	// DefaultSignupLimit: 10 at once, then one per 30 s. A negative Burst
	// turns the limit off.
	SignupLimit rpc.RateLimit

	// LocalLimits keeps the sign-in, sign-up and mail limits in process
	// memory instead of the table authrpc_rate_limits. Only for a single
	// instance: each instance then counts alone, so N instances allow N
	// times the attempts. Default false: one upsert per limit checked
	// (measured about 0.5 ms on PostgreSQL, 0.1 ms on SQLite).
	LocalLimits bool

	// SignupEnabled says whether /v1/session/signup is open; while it says
	// no, signup answers 403 "signup is disabled". The settings module's
	// SignupEnabled method fits (the signup_enabled setting, off until an
	// administrator turns it on); SignupOpen keeps signup always open.
	// Default nil: signup is closed.
	SignupEnabled func(ctx context.Context) (bool, error)

	// Mailer sends the mails of /v1/session/send-confirmation-email and
	// send-password-reset-email: the templates mailer.TemplateConfirmEmail
	// and mailer.TemplateResetPassword with a mailer.LinkData. The settings
	// module's Mailer method fits; the security notices go through it too
	// (see SecurityMail). Nil: those two methods answer 400 "mail is not
	// configured", and no notice is sent.
	Mailer Mailer

	// AppURL returns the base of the links in those mails; the settings
	// module's AppURL method (the app_url setting) fits. Links never come
	// from the request's Host header. Nil, or an error or a URL that is not
	// absolute http(s): the two send methods answer 400 "mail is not
	// configured" (and the cause is logged).
	AppURL func(ctx context.Context) (string, error)

	// SecurityMail says whether to send a security notice now: template is
	// mailer.TemplateNewSignin (a sign-in from a device and network the
	// user has not signed in from lately), mailer.TemplatePasswordChanged
	// or mailer.TemplateEmailChanged (sent to the address the user had).
	// The settings module's SecurityMail method fits (the
	// no_new_signin_mail, no_password_changed_mail and
	// no_email_changed_mail settings). An error skips the notice and is
	// logged. The notices go through Mailer, off the request path, to
	// users with an email address. Default nil: all three are sent.
	SecurityMail func(ctx context.Context, template string) (bool, error)

	// SessionListPath follows the app URL in the notices' link to the
	// page where a user sees and ends its sessions; it starts with "/" and
	// may hold a query or a fragment ("/admin/#/security"). Without an app
	// URL the notices carry no link. Default DefaultSessionListPath.
	SessionListPath string

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

	// AvatarURL is the address of a user's picture, sent as avatar in user
	// records and sign-in answers; "{gravatar}" in it stands for the
	// user's gravatar hash. Default DefaultAvatarURL. NoAvatar sends
	// avatar null instead.
	AvatarURL string
	NoAvatar  bool

	// OAuth, when set, signs users in through OAuth providers: signin and
	// signup take {oauth_provider, oauth_code, oauth_redirect_url,
	// oauth_state}, identities are linked to users (the table
	// user_identities), and /v1/profile/get-identities,
	// /v1/profile/remove-identity and /v1/admin/users/get-identities are
	// registered. Mount the oauth module first. Nil: none of it.
	OAuth *oauth.Module

	// Passkeys configure passkeys (WebAuthn): the relying party, which by
	// default is AppURL's host, and the checks (see PasskeyOptions). The
	// passkey methods are always registered; without a relying party they
	// answer 400 "passkeys are not configured".
	Passkeys PasskeyOptions

	// TablePrefix goes before the name of every table, index and
	// constraint the module creates, so that a host with tables of its own
	// of the same names (a users table, say) can mount the module beside
	// them, or mount it twice on one database: with "app_", the tables are
	// app_users, app_user_sessions and app_user_tokens (and the passkeys'
	// app_user_passkeys, app_user_passkey_handles and
	// app_user_passkey_ceremonies), the rate limits
	// app_authrpc_rate_limits, and the migrations are recorded in
	// app_authrpc_migrations. It is empty or 1 to storage.MaxTablePrefix of
	// [a-z0-9_], starting with a letter or '_' (storage.CheckTablePrefix).
	// The tokens module takes it from here (Module.TablePrefix); give the
	// settings and call log modules the same one, and storage.SyncOptions
	// the same ChannelPrefix. Changing it later starts afresh on empty
	// tables: existing rows are not moved. Default "": the names as they are.
	TablePrefix string

	// Audit keeps the audit trail of the module's changes: each is
	// recorded in its own transaction (users.create, users.delete,
	// users.enable, users.disable, users.set-password, users.set-permissions,
	// users.rename, users.set-email, users.set-telegram-name, users.signup,
	// users.reset-password, users.end-session, users.end-sessions,
	// users.enrol-totp, users.remove-totp, users.new-recovery-codes,
	// users.remove-factors, users.add-passkey, users.rename-passkey,
	// users.remove-passkey: never a secret or a code), with the refusals of the rules (deleting
	// oneself, a grant beyond one's own, another's password) as
	// "forbidden: …". Passwords appear only as "password": true. The tokens
	// module records through the same one (Module.Auditor). Package audit's
	// Module fits. Default nil: no trail.
	Audit storage.Auditor

	// Keyring seals the TOTP secrets at rest ("enc:v1:…", as the settings
	// module stores the SMTP password); the settings module's
	// *settings.Keyring fits. Nil: TOTP is not offered (begin-totp,
	// confirm-totp and a totp_code answer 400 "TOTP is not available"),
	// and no secret is ever stored in the clear. Give every instance the
	// same keys: a secret sealed by one is opened by another.
	Keyring Keyring

	// TOTPIssuer names the service in authenticator apps (the otpauth://
	// URI's issuer). Default: the host of AppURL, else DefaultTOTPIssuer.
	TOTPIssuer string

	// RequireFactorFor are permission tags whose holders must have a second
	// factor: such a user without one signs in with a password as before,
	// but the session may call only EnrolmentMethods (enrol TOTP or a
	// passkey, authorize, read the profile, sign out); every other method
	// answers 403 with error.data.meta.second_factor_required true until a
	// factor is enrolled. Root holds every permission, so it is included.
	// API tokens the user made before are left alone. Each tag must be
	// declared. Default nil: nobody must.
	RequireFactorFor []string

	// SecondFactorTTL is how long a sign-in waits for its second factor:
	// the life of the token a correct password of a user with a second
	// factor answers. Default DefaultSecondFactorTTL, 5 minutes.
	SecondFactorTTL time.Duration

	// QueryHooks says that db runs bun query hooks that must see every
	// query the module runs (tracing.QueryHook's spans, a test's
	// recorder): a user is then read by id through bun's query builder, as
	// everything else is. Default false: on SQLite that read (Lookup, the
	// admin methods naming a user, the caller's own record when the module
	// has not kept it) runs a statement prepared once, which bun's hooks
	// do not see, as bun runs them only around the queries it builds;
	// modernc's driver would otherwise parse the statement on every read.
	QueryHooks bool

	// Now tells the time: when sessions and mailed links expire, the
	// creation times stored, and the sign-in, sign-up and mail limits (in
	// process or in the database) all read it, so a test moves one clock
	// instead of waiting. The cleanup runs every CleanupInterval of real
	// time and deletes what has expired by Now. Default (nil): time.Now.
	Now func() time.Time
}

// Module is the mounted users module: users administration, the profile and
// sessions. Other modules use it to look users up.
type Module struct {
	oauth           *oauth.Module // Options.OAuth; nil without
	reg             *rpc.Registry
	db              *bun.DB
	tables          tables
	perms           *auth.Permissions
	log             *slog.Logger
	hasher          *auth.Hasher
	now             func() time.Time
	sessionTTL      time.Duration
	secondFactorTTL time.Duration
	signupOpen      func(ctx context.Context) (bool, error)
	adminPerm       string          // Options.AdminPermission
	audit           storage.Auditor // nil: no trail

	limits    *storage.Limits // nil with LocalLimits
	signinLim signinLimits
	hasty     *auth.Limiter    // sign-in attempts per address key, in process: see signinPriority
	signupLim auth.RateLimiter // nil when off

	links     *linkMail // the mails with a link
	activity  *activity // the sessions' last activity
	verifiers verifiers // the credentials Authorize takes
	pk        *passkeys // Options.Passkeys

	keyring          Keyring // Options.Keyring; nil: no TOTP
	totpIssuerName   string
	requireFactorFor []string
	enrolOnly        *auth.Confinement       // nil unless RequireFactorFor
	removers         funcList[FactorRemover] // OnRemoveFactors

	resets                       funcList[CredentialsResetFunc] // OnCredentialsReset
	hooks                        userHooks
	keepTokensOnAdminSetPassword bool
	avatarURL                    string // empty: no avatars
	securityMail                 func(ctx context.Context, template string) (bool, error)
	sessionListPath              string

	reads preparedReads // the hot reads, prepared on SQLite unless Options.QueryHooks
	cache *userCache    // the caller's own record, kept by auth's invalidations

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// Mount runs the module's migrations, creates the root user on first start,
// registers the /v1/admin/users, /v1/profile and /v1/session methods on reg
// and the session authenticator on reg.Auth(), and starts the expired-session
// cleanup, which Close stops; reg.Shutdown calls Close.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	if err := storage.CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("users: mount: Options.TablePrefix: %w", err)
	}
	if opts.AdminPermission == "" {
		opts.AdminPermission = DefaultAdminPermission
	}
	if err := reg.Permissions().CheckTag(opts.AdminPermission); err != nil {
		return nil, fmt.Errorf("users: mount: Options.AdminPermission: %w", err)
	}
	m := &Module{
		reg:             reg,
		db:              db,
		tables:          newTables(opts.TablePrefix),
		perms:           reg.Permissions(),
		log:             reg.Logger(),
		hasher:          opts.Hasher,
		now:             opts.Now,
		sessionTTL:      opts.SessionTTL,
		secondFactorTTL: opts.SecondFactorTTL,
		signupOpen:      opts.SignupEnabled,
		adminPerm:       opts.AdminPermission,
		audit:           opts.Audit,
		reads:           preparedReads{off: opts.QueryHooks},

		keepTokensOnAdminSetPassword: opts.KeepTokensOnAdminSetPassword,
		avatarURL:                    avatarURL(opts),
		securityMail:                 opts.SecurityMail,
		sessionListPath:              opts.SessionListPath,
	}
	if m.sessionListPath == "" {
		m.sessionListPath = DefaultSessionListPath
	}
	if !validLinkPath(m.sessionListPath) {
		return nil, fmt.Errorf("users: mount: Options.SessionListPath %q: it must start with / and hold no spaces or control characters", m.sessionListPath)
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
	if m.secondFactorTTL <= 0 {
		m.secondFactorTTL = DefaultSecondFactorTTL
	}
	out := opts.Out
	if out == nil {
		out = os.Stderr
	}
	if !opts.LocalLimits {
		var err error
		m.limits, err = storage.NewLimits(ctx, db, storage.LimitsOptions{Now: m.now, TablePrefix: opts.TablePrefix}, storage.WithLogger(m.log))
		if err != nil {
			return nil, fmt.Errorf("users: mount: %w", err)
		}
	}
	m.signinLim = signinLimits{
		pair:     m.limiter("users.signin.name_addr", opts.SigninLimitPerNameAddr, DefaultSigninLimitPerNameAddr),
		addr:     m.limiter("users.signin.addr", opts.SigninLimitPerAddr, DefaultSigninLimitPerAddr),
		name:     m.limiter("users.signin.name", opts.SigninLimitPerName, DefaultSigninLimitPerName),
		attacked: m.limiter("users.signin.under_attack", opts.SigninLimitUnderAttack, DefaultSigninLimitUnderAttack),
	}
	m.signupLim = m.limiter("users.signup.addr", opts.SignupLimit, DefaultSignupLimit)
	m.hasty = auth.NewLimiter(auth.LimiterOptions{Rate: 1 / hastyForgiven.Seconds(), Burst: hastyAfter, Now: m.now})
	pk, err := newPasskeys(opts, m.log)
	if err != nil {
		return nil, err
	}
	m.pk = pk
	links, err := m.newLinkMail(ctx, opts)
	if err != nil {
		return nil, err
	}
	m.links = links

	if err := storage.Migrate(ctx, db, "users", migrations(m.log, opts.TablePrefix),
		storage.WithLogger(m.log), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return nil, fmt.Errorf("users: mount: %w", err)
	}
	if storage.IsPostgres(db) {
		m.checkSearchIndexes(ctx)
	}
	if err := m.ensureRoot(ctx, opts.RootPassword, out); err != nil {
		return nil, fmt.Errorf("users: mount: %w", err)
	}

	m.cache = newUserCache(reg.Auth(), m.now)
	m.verifiers.add(Verifier{Field: "password", Verify: m.verifyPassword})
	m.activity = newActivity(m.now)
	m.activity.write = m.writeActivity
	m.activity.log = func(err error, n int) {
		m.log.Warn("users: sessions' last activity not stored", "sessions", n, "err", err)
	}

	if err := m.mountFactors(opts); err != nil {
		return nil, err
	}
	if err := m.mountOAuth(ctx, opts); err != nil {
		return nil, err
	}
	m.mountPasskeys()
	m.registerAdmin()
	m.registerProfile()
	m.registerSession()
	m.registerFactors()
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(m.authenticate))
	reg.OnActivity(m.activity.touch)

	interval := opts.CleanupInterval
	if interval <= 0 {
		interval = DefaultCleanupInterval
	}
	// One round now, before serving, so that no round races the first
	// calls; then one every interval.
	m.cleanup(ctx)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop, m.done = stop, make(chan struct{})
	go m.cleanupLoop(bg, interval)
	go m.activity.run(bg, activityFlush)
	m.startMail()
	reg.OnShutdown(m.Close)
	return m, nil
}

// Close stops the background cleanup of expired sessions and tokens, waits
// for the mails in flight to be sent and for the sessions' last activity
// to be written (for at most activityFlush), and waits for them until ctx ends
// (then the mails are canceled). The methods stay registered, but send no
// more mail; the database stays open.
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(m.stop)
	if err := m.reads.close(); err != nil {
		return fmt.Errorf("users: close: %w", err)
	}
	if err := m.links.queue.close(ctx); err != nil {
		return err
	}
	for _, done := range []chan struct{}{m.done, m.activity.done} {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("users: close: %w", ctx.Err())
		}
	}
	return nil
}

// TablePrefix returns Options.TablePrefix: what the names of the module's
// tables start with. Modules whose tables reference users take it too.
func (m *Module) TablePrefix() string { return m.tables.prefix }

// Hasher returns the password hasher the module uses (Options.Hasher, or
// its default), whose Stats a metrics exporter reads.
func (m *Module) Hasher() *auth.Hasher { return m.hasher }

// cleanupLoop runs cleanup every interval, until ctx ends.
func (m *Module) cleanupLoop(ctx context.Context, every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.cleanup(ctx)
	}
}

// cleanup deletes the sessions, one-time tokens (mailed links, second-factor
// tokens) and passkey ceremonies expired by Now, and the rate-limit buckets
// that have refilled. Failures are logged: the next
// round tries again, and expired rows stop working whether or not they are
// deleted.
func (m *Module) cleanup(ctx context.Context) {
	if _, err := m.deleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("users: delete expired sessions", "err", err)
	}
	if _, err := m.deleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("users: delete expired tokens", "err", err)
	}
	if _, err := m.deleteExpiredCeremonies(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("users: delete expired passkey ceremonies", "err", err)
	}
	m.activity.prune()
	if m.limits != nil {
		if _, err := m.limits.Prune(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("users: prune rate limits", "err", err)
		}
	}
}

// stamp is the time to store: UTC, to the microsecond both databases keep,
// so that an answer made before storing matches what a later read returns.
func (m *Module) stamp() time.Time {
	return m.now().UTC().Truncate(time.Microsecond)
}
