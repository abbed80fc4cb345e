package users

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/rpc"
)

// Mailer sends a mail rendered from a named template. *mailer.Mailer is
// one (the settings module's Mailer method returns it). The module sends
// mailer.TemplateConfirmEmail and mailer.TemplateResetPassword with a
// mailer.LinkData.
type Mailer interface {
	SendTemplate(ctx context.Context, to, name string, data any) error
}

// Defaults of the email options.
const (
	DefaultConfirmEmailTTL   = 24 * time.Hour
	DefaultResetPasswordTTL  = time.Hour
	DefaultConfirmEmailPath  = "/confirm-email"
	DefaultResetPasswordPath = "/reset-password"
)

// Default rate limits of the two send methods (see Options).
var (
	DefaultEmailLimitPerUser = rpc.RateLimit{Burst: 3, PerSecond: 1.0 / 300}
	DefaultEmailLimitPerAddr = rpc.RateLimit{Burst: 20, PerSecond: 1.0 / 15}
)

// Mails are prepared and sent off the request path by mailWorkers
// goroutines, from a queue of at most mailQueue requests. A full queue drops
// the request (and logs it) rather than blocking the caller: a flood must
// not pile up goroutines, memory or SMTP connections, and the rate limits
// make a full queue rare.
const (
	mailWorkers = 4
	mailQueue   = 1000
)

// mailTimeout bounds the work for one mail: finding the user, storing the
// token and the SMTP exchange (which the Mailer bounds too).
const mailTimeout = time.Minute

// errBadToken answers every token that cannot be used: malformed, unknown,
// of the other kind, expired, used, or of a user who cannot use it now.
var errBadToken = rpc.BadRequest("invalid or expired token")

// linkFlow is one of the two mails with a link: what differs between them.
type linkFlow struct {
	kind     auth.Kind
	template string
	path     string // appended to the app URL, before ?token=
	ttl      time.Duration
	what     string // for logs
}

// mailFlows is the state of the email methods.
type mailFlows struct {
	mailer  Mailer                                    // nil: not configured
	appURL  func(ctx context.Context) (string, error) // nil: not configured
	confirm linkFlow
	reset   linkFlow

	byUser auth.RateLimiter // answered 429: keyed by the user_id as given; nil when off
	byAddr auth.RateLimiter // answered 429: keyed by client address (an IPv6 /64); nil when off
	// perUser caps the mails one user receives, whichever of their name
	// and email they were asked for by. It is applied off the request path
	// and never shows in the answer, which must not depend on the user.
	perUser auth.RateLimiter

	jobs   chan mailJob
	ctx    context.Context // the mails' work; canceled when Close gives up waiting
	cancel context.CancelFunc

	mu      sync.Mutex // guards closing jobs against sends on it
	closed  bool
	workers sync.WaitGroup
}

// mailJob is one request for a mail: the user name or email asked for
// (normalized), and the app URL as it was when asked.
type mailJob struct {
	flow *linkFlow
	name string
	base string
}

func (m *Module) newMailFlows(ctx context.Context, opts Options) (*mailFlows, error) {
	f := &mailFlows{
		mailer: opts.Mailer,
		appURL: opts.AppURL,
		confirm: linkFlow{
			kind: auth.KindConfirmEmail, template: mailer.TemplateConfirmEmail,
			path: opts.ConfirmEmailPath, ttl: opts.ConfirmEmailTTL, what: "email confirmation",
		},
		reset: linkFlow{
			kind: auth.KindResetPass, template: mailer.TemplateResetPassword,
			path: opts.ResetPasswordPath, ttl: opts.ResetPasswordTTL, what: "password reset",
		},
		jobs: make(chan mailJob, mailQueue),
	}
	for _, lf := range []struct {
		flow *linkFlow
		path string
		ttl  time.Duration
	}{{&f.confirm, DefaultConfirmEmailPath, DefaultConfirmEmailTTL}, {&f.reset, DefaultResetPasswordPath, DefaultResetPasswordTTL}} {
		if lf.flow.path == "" {
			lf.flow.path = lf.path
		}
		if !validLinkPath(lf.flow.path) {
			return nil, fmt.Errorf("users: %s link path %q: it must start with / and hold no spaces or control characters", lf.flow.what, lf.flow.path)
		}
		if lf.flow.ttl <= 0 {
			lf.flow.ttl = lf.ttl
		}
	}
	f.byUser = m.limiter("users.mail.asked", opts.EmailLimitPerUser, DefaultEmailLimitPerUser)
	f.perUser = m.limiter("users.mail.sent", opts.EmailLimitPerUser, DefaultEmailLimitPerUser)
	f.byAddr = m.limiter("users.mail.addr", opts.EmailLimitPerAddr, DefaultEmailLimitPerAddr)
	// The mails outlive the request that asked for them, not the module.
	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return f, nil
}

func (m *Module) registerEmail(mod *rpc.Section) {
	anyone := []string{auth.Anyone}
	userID := rpc.Param{Name: "user_id", Description: "User name or email."}
	mod.Register(rpc.Method{
		ID: "send-confirmation-email", Title: "Send confirmation email", Description: "Mails the user a link to confirm the email address, with a single-use token (24 hours by default); the link starts with the `app_url` setting. Answers the same whether or not the user exists.", Permissions: anyone,
		Params: []rpc.Param{userID},
		Handler: func(ctx context.Context, userID string) error {
			return m.requestLink(ctx, &m.mail.confirm, userID)
		},
	})
	mod.Register(rpc.Method{
		ID: "confirm-email-by-token", Title: "Confirm user email using email confirmation token", Description: "Marks the email address the token was sent to as confirmed and uses the token up.", Permissions: anyone,
		Params:  []rpc.Param{{Name: "token", Description: "Email confirmation token."}},
		Handler: m.confirmEmailByToken,
	})
	mod.Register(rpc.Method{
		ID: "send-password-reset-email", Title: "Send password reset email", Description: "Mails the user a link to set a new password, with a single-use token (1 hour by default) that voids the ones sent before. Answers the same whether or not the user exists.", Permissions: anyone,
		Params: []rpc.Param{userID},
		Handler: func(ctx context.Context, userID string) error {
			return m.requestLink(ctx, &m.mail.reset, userID)
		},
	})
	mod.Register(rpc.Method{
		ID: "set-password-by-token", Title: "Set user password using password recovery token", Description: "Sets the password of the user the token was sent to, uses the token up, and ends the user's sessions and API tokens.", Permissions: anyone,
		Params:  []rpc.Param{{Name: "token"}, {Name: "password"}},
		Handler: m.setPasswordByToken,
	})
}

// requestLink answers a send method. The answer must not tell whether the
// user exists, has an email or may get the mail, in what it says or in how
// long it takes; so the request does only what is the same for everyone
// (the configuration, the rate limits) and hands the rest, finding the
// user included, to a background job. The job's failures are logged.
func (m *Module) requestLink(ctx context.Context, flow *linkFlow, who string) error {
	// The limits first: they also bound what a caller can make the
	// configuration check below log.
	if err := limit(ctx, m.mail.byAddr, auth.AddrKey(clientAddr(ctx)), "too many emails asked for from your address: try again later"); err != nil {
		return err
	}
	if err := limit(ctx, m.mail.byUser, string(flow.kind)+":"+limiterKey(strings.ToLower(who)), "too many emails asked for this user: try again later"); err != nil {
		return err
	}
	base, rerr := m.linkBase(ctx)
	if rerr != nil {
		return rerr
	}
	// A text that cannot be a name or an email names nobody, whatever the
	// users; it is not queued, which keeps the queue's items small.
	if name, ok := normalizeUsername(who); ok {
		m.enqueueMail(mailJob{flow: flow, name: name, base: base})
	}
	return nil
}

// linkBase returns the app URL that links start from, without a trailing
// slash, or 400 when mail cannot be sent at all. That does not depend on the
// user, so saying so tells nothing about users, and it tells the client not
// to wait for a mail that cannot come.
func (m *Module) linkBase(ctx context.Context) (string, *rpc.Error) {
	if m.mail.mailer == nil {
		return "", rpc.BadRequest("mail is not configured")
	}
	if m.mail.appURL == nil {
		return "", rpc.BadRequest("mail is not configured: no app URL to link to")
	}
	base, err := m.mail.appURL(ctx)
	if err == nil && !validAppURL(base) {
		err = fmt.Errorf("not an absolute http(s) URL without query or fragment: %q", base)
	}
	if err != nil {
		m.log.WarnContext(ctx, "users: no app URL for the links in mails", "err", err)
		return "", rpc.BadRequest("mail is not configured: no app URL to link to")
	}
	return strings.TrimRight(base, "/"), nil
}

func validAppURL(s string) bool {
	if s == "" || strings.ContainsAny(s, "?# \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// validLinkPath allows any path, query or fragment ("/#/reset-password"
// for an app that routes by fragment) that can follow the app URL as is.
func validLinkPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// startMail starts the workers that send the mails, if there is a Mailer.
func (m *Module) startMail() {
	f := m.mail
	if f.mailer == nil {
		return // requestLink refuses before queueing anything
	}
	for range mailWorkers {
		f.workers.Add(1)
		go func() {
			defer f.workers.Done()
			for job := range f.jobs {
				m.runMailJob(job)
			}
		}()
	}
}

// enqueueMail queues a job for the workers; it never waits.
func (m *Module) enqueueMail(job mailJob) {
	f := m.mail
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		m.log.Warn("users: module closed: " + job.flow.what + " mail not sent")
		return
	}
	select {
	case f.jobs <- job:
	default:
		m.log.Warn("users: mail queue full: "+job.flow.what+" mail dropped", "queued", mailQueue)
	}
}

func (m *Module) runMailJob(job mailJob) {
	if m.mail.ctx.Err() != nil {
		m.log.Warn("users: module closed: " + job.flow.what + " mail not sent")
		return
	}
	defer func() {
		// A panic here would take the host's process down with it.
		if v := recover(); v != nil {
			m.log.Error("users: "+job.flow.what+" mail: panic", "panic", v)
		}
	}()
	ctx, cancel := context.WithTimeout(m.mail.ctx, mailTimeout)
	defer cancel()
	m.sendLink(ctx, job.flow, job.name, job.base)
}

// closeMail stops taking mails and lets the workers send those queued
// until ctx ends, then cancels them.
func (m *Module) closeMail(ctx context.Context) error {
	f := m.mail
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.jobs)
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		f.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		f.cancel()
		return nil
	case <-ctx.Done():
		f.cancel()
		return fmt.Errorf("users: close: mails in flight: %w", ctx.Err())
	}
}

// sendLink finds the user that name names (a user name, else an email),
// and if they may get the mail, stores a new token and mails them the link.
// Nobody learns the outcome but the log.
func (m *Module) sendLink(ctx context.Context, flow *linkFlow, name, base string) {
	// Look without a transaction first: most requests for nobody should not
	// take SQLite's write lock.
	r, err := m.findByName(ctx, m.db, name, false)
	if err == nil && r == nil && strings.Contains(name, "@") {
		r, err = m.findByEmail(ctx, m.db, name, false)
	}
	if err != nil {
		m.log.ErrorContext(ctx, "users: "+flow.what+" mail not sent", "err", err)
		return
	}
	if r == nil {
		m.log.DebugContext(ctx, "users: "+flow.what+" mail not sent: no such user")
		return
	}
	if why := mayMail(flow, r); why != "" {
		m.log.DebugContext(ctx, "users: "+flow.what+" mail not sent: "+why, "user_id", r.ID)
		return
	}
	if l := m.mail.perUser; l != nil {
		ok, _, err := l.Take(ctx, fmt.Sprintf("%s:%d", flow.kind, r.ID))
		if err != nil {
			m.log.ErrorContext(ctx, "users: "+flow.what+" mail not sent", "user_id", r.ID, "err", err)
			return
		}
		if !ok {
			m.log.WarnContext(ctx, "users: "+flow.what+" mail not sent: too many for this user", "user_id", r.ID)
			return
		}
	}

	var (
		row     *userRow
		plain   string
		expires time.Time
	)
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// Again under the lock, which also orders two issues for one user.
		locked, err := m.findByID(ctx, tx, r.ID, true)
		if err != nil || locked == nil || mayMail(flow, locked) != "" {
			return err
		}
		plain, expires, err = m.tables.issueToken(ctx, tx, locked.ID, flow.kind, locked.Email, m.stamp(), flow.ttl)
		row = locked
		return err
	})
	if err != nil {
		m.log.ErrorContext(ctx, "users: "+flow.what+" mail not sent", "user_id", r.ID, "err", err)
		return
	}
	if row == nil {
		return // changed meanwhile
	}
	data := mailer.LinkData{Username: row.Name, Link: link(base, flow.path, plain), ExpiresAt: expires}
	if err := m.mail.mailer.SendTemplate(ctx, row.Email, flow.template, data); err != nil {
		// The token stays: it may yet have arrived, and it expires.
		m.log.ErrorContext(ctx, "users: "+flow.what+" mail not sent", "user_id", row.ID, "err", err)
		return
	}
	m.log.InfoContext(ctx, "users: "+flow.what+" mail sent", "user_id", row.ID)
}

// mayMail says why a user gets no mail of the flow, or "" when they may.
func mayMail(flow *linkFlow, row *userRow) string {
	switch {
	case !row.Enabled:
		return "the user is disabled"
	case row.Email == "":
		return "the user has no email"
	case flow.kind == auth.KindConfirmEmail && row.EmailConfirmed:
		return "the email is confirmed already"
	case flow.kind == auth.KindResetPass && row.ID == auth.RootUserID:
		// Root's password is set only by root, signed in: a mailbox is a
		// weaker secret than that.
		return "root's password is not reset by mail"
	}
	return ""
}

// link is base + path with the token as the query parameter token.
func link(base, path, token string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return base + path + sep + "token=" + url.QueryEscape(token)
}

// confirmEmailByToken marks the email the token was sent to as confirmed,
// if the user still has it.
func (m *Module) confirmEmailByToken(ctx context.Context, token string) error {
	if kind, ok := auth.TokenKind(token); !ok || kind != auth.KindConfirmEmail {
		return errBadToken // garbage costs no query
	}
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		t, err := m.tables.consumeToken(ctx, tx, token, auth.KindConfirmEmail, m.now())
		if err != nil {
			return err
		}
		if t == nil {
			return errBadToken
		}
		row, err := m.findByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		switch {
		case row == nil || !row.Enabled:
			return errBadToken
		case row.Email != t.Email:
			return rpc.BadRequest("the email address has changed since this link was sent: ask for a new one")
		case row.EmailConfirmed:
			return nil
		}
		_, err = tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("email_confirmed = ?", true).Where("id = ?", row.ID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: confirm email of user %d: %w", row.ID, err)
		}
		return nil
	})
	return txError(err)
}

// setPasswordByToken sets the password of the user a reset token was sent
// to, ends all their sessions and the credentials other modules hold for
// them (API tokens; see OnCredentialsReset) and, since the mail reached
// them, confirms their email if it is still the one the mail went to.
func (m *Module) setPasswordByToken(ctx context.Context, token, password string) error {
	if kind, ok := auth.TokenKind(token); !ok || kind != auth.KindResetPass {
		return errBadToken
	}
	// The password's rules first, so that a bad password does not use up
	// the token.
	if rerr := m.checkPassword(password); rerr != nil {
		return rerr
	}
	// Look before hashing, so that unknown tokens cost no argon2 work.
	t, err := m.tables.findToken(ctx, m.db, token, auth.KindResetPass, m.now())
	if err != nil {
		return err
	}
	if t == nil {
		return errBadToken
	}
	// The token proves the mailbox: this caller is genuine.
	hash, err := m.hasher.Hash(hashCtx(ctx, auth.HashPriorityHigh), password)
	if err != nil {
		return busy(fmt.Errorf("users: set password by token: hash: %w", err))
	}
	var id int64
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		t, err := m.tables.consumeToken(ctx, tx, token, auth.KindResetPass, m.now())
		if err != nil {
			return err
		}
		if t == nil { // used meanwhile, or expired
			return errBadToken
		}
		row, err := m.findByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		if row == nil || !row.Enabled || row.ID == auth.RootUserID {
			return errBadToken
		}
		confirmed := row.EmailConfirmed || (row.Email != "" && row.Email == t.Email)
		_, err = tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
			Set("password_hash = ?", hash).
			Set("email_confirmed = ?", confirmed).
			Where("id = ?", row.ID).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: set password by token: user %d: %w", row.ID, err)
		}
		if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
			return err
		}
		if err := m.credentialsReset(ctx, tx, CredentialsReset{UserID: row.ID, ByMail: true}); err != nil {
			return err
		}
		id = row.ID
		return nil
	})
	if err != nil {
		return txError(err)
	}
	m.invalidateUser(id)
	return nil
}

// txError passes a refusal out of a transaction as the *rpc.Error it is.
func txError(err error) error {
	var rerr *rpc.Error
	if errors.As(err, &rerr) {
		return rerr
	}
	return err
}
