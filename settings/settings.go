package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// ErrAppURLNotSet is returned by AppURL while no app_url is stored.
var ErrAppURLNotSet = errors.New("settings: app_url is not set")

// Options configure Mount. Zero Options are valid.
type Options struct {
	// Permission is the tag a caller needs for the /v1/admin/settings
	// methods. It must be declared (rpc.Options.Permissions) before Mount,
	// which fails otherwise. Default "admin".
	Permission string

	// Defaults are the built-in fields' values while nothing is stored for
	// them. Nil: signup_enabled false, smtp_port 587, the rest empty.
	Defaults *Settings

	// Extra declares the host's own fields: a struct, or a pointer to one,
	// whose exported fields become settings beside the built-in ones, named
	// and checked as the fields of a method parameter are (json tags for the
	// names, jsonschema tags for constraints). Its values are the defaults.
	// Read them with Settings.Extra. A field tagged settings:"secret" is
	// treated as smtp_password is: never answered by read, and encrypted
	// at rest with Keys. Nil: no host fields.
	Extra any

	// Mailer tunes the SMTP client of test-smtp and of the Mailer method
	// (timeouts, TLS roots, implicit TLS ports).
	Mailer mailer.Options

	// Keys, when set, encrypts the secret settings at rest (smtp_password,
	// and the host fields tagged settings:"secret") with AES-256-GCM under
	// its current key; its older keys still decrypt what they encrypted.
	// Values stored in plain text before keep working and are encrypted at
	// the next update, or at once by Reencrypt. A value that does not
	// decrypt (its key is not in Keys, or Keys is nil) is never taken for
	// another: Get and SMTP answer a *SecretError, read still answers
	// smtp_password_set true, and storing the setting again replaces it.
	// Nil: secrets are stored in plain text, as the other settings are.
	Keys *Keyring

	// Channel, when set, keeps several instances sharing one database in
	// step: an update is announced on it, and an announcement from another
	// instance reloads the settings here. While the channel is not
	// listening, announcements may be missed, so every read goes to the
	// database until it listens again. Use storage.Sync's Channel("settings").
	Channel pubsub.Channel

	// Audit keeps the audit trail of update: each is recorded in its
	// transaction as "settings.update", with the fields it changed and
	// their new values, but a secret field (smtp_password, the host's
	// fields tagged settings:"secret") only as true (set) or false
	// (cleared); an update an API token may not make, as "forbidden: …".
	// Package audit's Module fits. Default nil: no trail.
	Audit storage.Auditor

	// TablePrefix goes before the name of the module's table and of the
	// record of its migrations (see storage.CheckTablePrefix for what it
	// may hold): with "app_", the settings are in app_authrpc_settings,
	// recorded in app_authrpc_migrations, so that two services mounted
	// under different prefixes on one database keep settings of their
	// own. Give it the users module's TablePrefix. Default "":
	// authrpc_settings.
	TablePrefix string
}

// Settings are the application settings.
type Settings struct {
	AppURL        string `json:"app_url"`
	SMTPFrom      string `json:"smtp_from"`
	SMTPHostname  string `json:"smtp_hostname"`
	SMTPPort      int    `json:"smtp_port"`
	SMTPUsername  string `json:"smtp_username"`
	SMTPPassword  string `json:"-"` // never in JSON
	SignupEnabled bool   `json:"signup_enabled"`

	// The security notices the users module mails (users.Options.SecurityMail)
	// are on unless one of these turns its off.
	NoNewSigninMail       bool `json:"no_new_signin_mail"`
	NoPasswordChangedMail bool `json:"no_password_changed_mail"`
	NoEmailChangedMail    bool `json:"no_email_changed_mail"`

	// The OAuth settings; Module.OAuth answers them as an oauth.Config.
	OAuthProviders         map[string]oauth.Provider `json:"-"` // client secrets inside: never in JSON
	OAuthRedirectURLs      []string                  `json:"oauth_redirect_urls"`
	OAuthLinkVerifiedEmail bool                      `json:"oauth_link_verified_email"`

	extra json.RawMessage // the host's fields, a JSON object; nil without them
}

// Extra decodes the host's own fields (see Options.Extra) into dst, a
// pointer to a value of the type given there.
func (s Settings) Extra(dst any) error {
	if s.extra == nil {
		return errors.New("settings: no host fields: Options.Extra was nil")
	}
	if err := json.Unmarshal(s.extra, dst); err != nil {
		return fmt.Errorf("settings: decode host fields: %w", err)
	}
	return nil
}

// SMTP returns the mail server settings as a mailer.Config.
func (s Settings) SMTP() mailer.Config {
	return mailer.Config{
		Host: s.SMTPHostname, Port: s.SMTPPort,
		Username: s.SMTPUsername, Password: s.SMTPPassword,
		From: s.SMTPFrom,
	}
}

// Module is the mounted settings module. It keeps the settings in memory,
// so reading them costs no database round trip.
type Module struct {
	db     *bun.DB
	table  string // the table after Options.TablePrefix, AS s (row's alias)
	log    *slog.Logger
	opts   Options
	schema *fields
	mail   *mailer.Mailer

	mu  sync.Mutex // orders the replacements of cur
	cur atomic.Pointer[snapshot]

	// trusted is false while Options.Channel is not listening: cur may
	// then miss another instance's update.
	trusted atomic.Bool
	reload  chan struct{} // asks the reloader for a reload; buffered, coalescing
	stop    chan struct{}
	done    chan struct{}

	closeOnce sync.Once
}

// Mount creates the settings table if needed, loads the settings and
// registers read, update and test-smtp under /v1/admin/settings;
// reg.Shutdown calls Close.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	if opts.Permission == "" {
		opts.Permission = "admin"
	}
	if err := reg.Permissions().CheckTag(opts.Permission); err != nil {
		return nil, fmt.Errorf("settings: Options.Permission: %w", err)
	}
	defaults := Settings{SMTPPort: mailer.DefaultPort} // signup closed until an administrator opens it
	if opts.Defaults != nil {
		defaults = *opts.Defaults // a copy: the host may reuse its value
	}
	opts.Defaults = &defaults
	if msg := checkSettings(*opts.Defaults); msg != "" {
		return nil, fmt.Errorf("settings: Options.Defaults: %s", msg)
	}
	f, err := newFields(opts.Extra)
	if err != nil {
		return nil, err
	}
	if err := storage.CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("settings: Options.TablePrefix: %w", err)
	}
	if err := storage.Migrate(ctx, db, "settings", migrations(opts.TablePrefix),
		storage.WithLogger(reg.Logger()), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	m := &Module{db: db, table: opts.TablePrefix + "authrpc_settings AS s", log: reg.Logger(), opts: opts, schema: f}
	m.trusted.Store(true)
	m.mail = mailer.New(m.SMTP, opts.Mailer)
	if err := m.Reload(ctx); err != nil {
		return nil, err
	}
	if err := m.cur.Load().err(); err != nil {
		// Not fatal: the other settings work, and an admin can store the
		// secret again. Get and SMTP answer the error meanwhile.
		m.log.ErrorContext(ctx, "settings: secret settings do not decrypt; mount with the key they were encrypted with (settings.Options.Keys), or store them again", "err", err)
	}
	if opts.Channel != nil {
		m.share(opts.Channel)
	}
	m.register(reg)
	reg.OnShutdown(m.Close)
	return m, nil
}

// share follows other instances' updates announced on ch. Reloads run on
// a goroutine of their own: channel callbacks must return quickly.
func (m *Module) share(ch pubsub.Channel) {
	m.reload = make(chan struct{}, 1)
	m.stop = make(chan struct{})
	m.done = make(chan struct{})
	go m.reloader()
	ch.Subscribe(func(string) { m.askReload() })
	ch.OnState(func(listening bool) {
		m.trusted.Store(listening)
		if listening {
			// Updates announced while we were deaf are lost: catch up.
			m.askReload()
		}
	})
}

func (m *Module) askReload() {
	select {
	case m.reload <- struct{}{}:
	default: // one is pending already, and it will read the latest
	}
}

func (m *Module) reloader() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		case <-m.reload:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := m.Reload(ctx); err != nil {
				m.log.Error("settings: reload after another instance's update", "err", err)
			}
			cancel()
		}
	}
}

// Close stops following other instances' updates, waiting until ctx ends
// for a reload in flight. Without Options.Channel there is nothing to stop.
// Calling it again does nothing.
func (m *Module) Close(ctx context.Context) error {
	if m.stop == nil {
		return nil
	}
	m.closeOnce.Do(func() { close(m.stop) })
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("settings: close: a reload is still running: %w", ctx.Err())
	}
}

// current returns the settings in memory, or from the database while
// another instance's update could have been missed.
func (m *Module) current(ctx context.Context) (*snapshot, error) {
	if !m.trusted.Load() {
		if err := m.Reload(ctx); err != nil {
			return nil, err
		}
	}
	return m.cur.Load(), nil
}

// Get returns the current settings. While a secret setting does not
// decrypt (see Options.Keys) it answers the *SecretError instead.
func (m *Module) Get(ctx context.Context) (Settings, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return Settings{}, err
	}
	if err := snap.err(); err != nil {
		return Settings{}, err
	}
	return snap.settings, nil
}

// SignupEnabled says whether signup is open; it fits users.Options.SignupEnabled.
func (m *Module) SignupEnabled(ctx context.Context) (bool, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return false, err
	}
	return snap.settings.SignupEnabled, nil
}

// SecurityMail says whether the users module sends the security notice
// template (mailer.TemplateNewSignin, TemplatePasswordChanged,
// TemplateEmailChanged) now: yes unless its no_…_mail setting says no. It
// fits users.Options.SecurityMail. Other templates are sent.
func (m *Module) SecurityMail(ctx context.Context, template string) (bool, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return false, err
	}
	s := snap.settings
	switch template {
	case mailer.TemplateNewSignin:
		return !s.NoNewSigninMail, nil
	case mailer.TemplatePasswordChanged:
		return !s.NoPasswordChangedMail, nil
	case mailer.TemplateEmailChanged:
		return !s.NoEmailChangedMail, nil
	}
	return true, nil
}

// AppURL returns the app_url setting, the base of links sent by mail, or
// ErrAppURLNotSet.
func (m *Module) AppURL(ctx context.Context) (string, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return "", err
	}
	if snap.settings.AppURL == "" {
		return "", ErrAppURLNotSet
	}
	return snap.settings.AppURL, nil
}

// SMTP returns the mail server settings; it is a source for mailer.New.
// While the stored smtp_password does not decrypt (see Options.Keys) it
// answers the *SecretError instead.
func (m *Module) SMTP(ctx context.Context) (mailer.Config, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return mailer.Config{}, err
	}
	if err := snap.unreadable[keySMTPPassword]; err != nil {
		return mailer.Config{}, err
	}
	return snap.settings.SMTP(), nil
}

// Mailer returns a Mailer that sends through the current settings, with
// Options.Mailer. Templates set on it stay for the life of the Module.
func (m *Module) Mailer() *mailer.Mailer { return m.mail }

// Reload reads the settings from the database again. Updates through this
// Module are seen at once without it; call it when another process may have
// changed them (a PostgreSQL NOTIFY, say).
func (m *Module) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows, err := m.readRows(ctx, m.db)
	if err != nil {
		return fmt.Errorf("settings: reload: %w", err)
	}
	m.cur.Store(m.build(ctx, rows))
	return nil
}

// typeOf returns the struct type behind v (a struct or a pointer to one).
func typeOf(v any) (reflect.Type, bool) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, t != nil && t.Kind() == reflect.Struct
}
