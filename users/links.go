package users

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/rpc"
)

// Mailing links with a one-time token: email confirmation and password
// reset. A request does only what is the same for everyone and queues the
// rest (mailqueue.go); the links are redeemed in redeem.go.

// Mailer sends a mail rendered from a named template. *mailer.Mailer is
// one (the settings module's Mailer method returns it). The module sends
// mailer.TemplateConfirmEmail and mailer.TemplateResetPassword with a
// mailer.LinkData, and the security notices (mailer.TemplateNewSignin,
// TemplatePasswordChanged, TemplateEmailChanged) with a mailer.NoticeData.
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

// linkFlow is one of the two mails with a link: what differs between them.
type linkFlow struct {
	kind     auth.Kind
	template string
	path     string // appended to the app URL, before ?token=
	ttl      time.Duration
	what     string // for logs
}

// linkMail is the state of the two mails with a link.
type linkMail struct {
	mailer  Mailer                                    // nil: not configured
	appURL  func(ctx context.Context) (string, error) // nil: not configured
	confirm linkFlow
	reset   linkFlow

	byUser auth.RateLimiter // refused: keyed by the user name or email as given; nil when off
	byAddr auth.RateLimiter // refused: keyed by client address (an IPv6 /64); nil when off
	// perUser caps the mails one user receives, whichever of their name
	// and email they were asked for by. It is applied off the request path
	// and never shows in the answer, which must not depend on the user.
	perUser auth.RateLimiter

	queue *mailQueue
}

func (m *Module) newLinkMail(ctx context.Context, opts Options) (*linkMail, error) {
	l := &linkMail{
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
		queue: newMailQueue(ctx, m.log),
	}
	for _, lf := range []struct {
		flow *linkFlow
		path string
		ttl  time.Duration
	}{{&l.confirm, DefaultConfirmEmailPath, DefaultConfirmEmailTTL}, {&l.reset, DefaultResetPasswordPath, DefaultResetPasswordTTL}} {
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
	l.byUser = m.limiter("users.mail.asked", opts.EmailLimitPerUser, DefaultEmailLimitPerUser)
	l.perUser = m.limiter("users.mail.sent", opts.EmailLimitPerUser, DefaultEmailLimitPerUser)
	l.byAddr = m.limiter("users.mail.addr", opts.EmailLimitPerAddr, DefaultEmailLimitPerAddr)
	return l, nil
}

// startMail starts sending mails, if there is a Mailer.
func (m *Module) startMail() {
	if m.links.mailer != nil { // else requestLink refuses before queueing anything
		m.links.queue.start()
	}
}

// SendConfirmationEmail mails the user that who names (a user name or an
// email address) a link that confirms their email address, as
// /v1/session/send-confirmation-email does. addr is the client's address
// (rpc.Call.ClientAddr), which the rate limits key on. It returns the same
// whether or not such a user exists, has an email or may get the mail:
// nil, once the mail is queued or found unneeded, ErrLimited, or
// ErrMailNotConfigured. What happens to the mail is logged.
func (m *Module) SendConfirmationEmail(ctx context.Context, who, addr string) error {
	return m.requestLink(ctx, &m.links.confirm, who, addr)
}

// SendPasswordResetEmail mails the user that who names a link to set a new
// password, which voids the links sent before, as
// /v1/session/send-password-reset-email does: see SendConfirmationEmail.
// Root's password is not reset by mail.
func (m *Module) SendPasswordResetEmail(ctx context.Context, who, addr string) error {
	return m.requestLink(ctx, &m.links.reset, who, addr)
}

// requestLink asks for a mail of the flow. The answer must not tell
// whether the user exists, has an email or may get the mail, in what it
// says or in how long it takes; so the request does only what is the same
// for everyone (the configuration, the rate limits) and hands the rest,
// finding the user included, to a background job.
func (m *Module) requestLink(ctx context.Context, flow *linkFlow, who, addr string) error {
	l := m.links
	// The limits first: they also bound what a caller can make the
	// configuration check below log.
	if err := limit(ctx, l.byAddr, auth.AddrKey(addr), "too many emails asked for from your address: try again later"); err != nil {
		return err
	}
	if err := limit(ctx, l.byUser, string(flow.kind)+":"+limiterKey(strings.ToLower(who)), "too many emails asked for this user: try again later"); err != nil {
		return err
	}
	base, err := m.linkBase(ctx)
	if err != nil {
		return err
	}
	// A text that cannot be a name or an email names nobody, whatever the
	// users; it is not queued, which keeps the queue's items small.
	if name, ok := normalizeUsername(who); ok {
		l.queue.enqueue(mailJob{what: flow.what, run: func(ctx context.Context) {
			m.sendLink(ctx, flow, name, base)
		}})
	}
	return nil
}

// linkBase returns the app URL that links start from, without a trailing
// slash, or refuses with ErrMailNotConfigured when mail cannot be sent at
// all. That does not depend on the user, so saying so tells nothing about
// users, and it tells the client not to wait for a mail that cannot come.
func (m *Module) linkBase(ctx context.Context) (string, error) {
	l := m.links
	if l.mailer == nil {
		return "", refuse(ErrMailNotConfigured, "mail is not configured")
	}
	if l.appURL == nil {
		return "", refuse(ErrMailNotConfigured, "mail is not configured: no app URL to link to")
	}
	base, err := l.appURL(ctx)
	if err == nil && !validAppURL(base) {
		err = fmt.Errorf("not an absolute http(s) URL without query or fragment: %q", base)
	}
	if err != nil {
		m.log.WarnContext(ctx, "users: no app URL for the links in mails", "err", err)
		return "", refuse(ErrMailNotConfigured, "mail is not configured: no app URL to link to")
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
	if l := m.links.perUser; l != nil {
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
	if err := m.links.mailer.SendTemplate(ctx, row.Email, flow.template, data); err != nil {
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
