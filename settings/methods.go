package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/rpc"
)

// The API v1 reference names the parameter of update and test-smtp
// "settings"; messages about it read as the registry's own do.
const paramLabel = `parameter 1 "settings"`

func invalid(key, rule string) *rpc.Error {
	return rpc.InvalidParams("%s: at /%s: %s", paramLabel, key, rule)
}

func (m *Module) register(reg *rpc.Registry) {
	perms := []string{m.opts.Permission}
	mod := reg.Section("/v1/admin/settings", "Application settings")
	mod.Register(rpc.Method{
		ID:          "read",
		Title:       "Read application settings",
		Description: "Answers the settings object. The SMTP password and OAuth client secrets are never sent: `smtp_password_set` and each provider's `client_secret_set` say whether one is stored.",
		Permissions: perms,
		Handler:     m.read,
	})
	mod.Register(rpc.Method{
		ID:    "update",
		Title: "Update application settings",
		Description: "Stores the fields given and answers the settings object, as read does. " +
			"Fields left out keep their values; unknown fields are refused.",
		Permissions: perms,
		Params:      []rpc.Param{{Name: "settings", Description: "Application settings object.", Schema: m.schema.update}},
		Handler: func(ctx context.Context, in map[string]json.RawMessage) (json.RawMessage, error) {
			out, err := m.update(ctx, in)
			if err == nil {
				m.announce(ctx, reg, out)
			}
			return out, err
		},
	})
	mod.Register(rpc.Method{
		ID:    "test-smtp",
		Title: "Test SMTP server settings",
		Description: "Connects to the SMTP server (STARTTLS when offered, implicit TLS on port 465), " +
			"authenticates and quits; fields left out are taken from the stored settings. " +
			"Answers 200, or 400 with the server's reply or the network error. " +
			"The stored password is only used with the stored host name.",
		Permissions: perms,
		Params:      []rpc.Param{{Name: "settings", Schema: m.schema.test}},
		Handler:     m.testSMTP,
	})
}

func (m *Module) read(ctx context.Context) (json.RawMessage, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return nil, err
	}
	return snap.read, nil
}

func (m *Module) update(ctx context.Context, in map[string]json.RawMessage) (json.RawMessage, error) {
	if rerr := checkMailRoute(auth.FromContext(ctx), in); rerr != nil {
		m.recordRefusal(ctx, rerr)
		return nil, rerr
	}
	values, err := m.values(in)
	if err != nil {
		return nil, err
	}
	// Serialised in this process so that the snapshots are stored in the
	// order their transactions committed.
	m.mu.Lock()
	defer m.mu.Unlock()
	var changes map[string]any
	rows, err := m.write(ctx, func(stored map[string]json.RawMessage) (map[string]json.RawMessage, error) {
		m.keepPasswordWithHost(stored, values)
		m.keepOAuthSecrets(stored, values)
		changes = m.changes(stored, values)
		return m.sealValues(stored, values), nil
	}, func(ctx context.Context, tx bun.Tx) error {
		return m.record(ctx, tx, changes)
	})
	if err != nil {
		var e *rpc.Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("settings: update: %w", err)
	}
	snap := m.build(ctx, rows)
	m.cur.Store(snap)
	if ch := m.opts.Channel; ch != nil {
		// After the commit, so that other instances reload what we stored.
		if err := ch.Publish(ctx, "updated"); err != nil {
			m.log.Error("settings: announce an update to other instances", "err", err)
		}
	}
	return snap.read, nil
}

// keepPasswordWithHost clears the stored password when an update moves
// smtp_hostname elsewhere without giving a password: the password was
// entered for the old server, and must not be sent to a new one that an
// admin may control (the password is write-only for that reason).
func (m *Module) keepPasswordWithHost(stored, values map[string]json.RawMessage) {
	newHost, ok := values[keySMTPHostname]
	if !ok {
		return
	}
	if _, ok := values[keySMTPPassword]; ok {
		return
	}
	oldHost := m.opts.Defaults.SMTPHostname
	if raw, ok := stored[keySMTPHostname]; ok {
		_ = json.Unmarshal(raw, &oldHost)
	}
	var host string
	_ = json.Unmarshal(newHost, &host)
	if !strings.EqualFold(host, oldHost) {
		values[keySMTPPassword] = json.RawMessage(`""`)
	}
}

// values checks the fields of an update and returns them as stored: JSON,
// in canonical form.
func (m *Module) values(in map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(in))
	for key, raw := range in {
		var v any
		var rule string
		var err error
		switch key {
		case keyAppURL, keySMTPFrom, keySMTPHostname, keySMTPUsername, keySMTPPassword:
			var s string
			err = json.Unmarshal(raw, &s)
			switch key {
			case keyAppURL:
				rule = checkAppURL(s)
			case keySMTPFrom:
				rule = checkFrom(s)
			case keySMTPHostname:
				rule = checkHostname(s)
			case keySMTPUsername:
				rule = checkUsername(s)
			case keySMTPPassword:
				rule = checkPassword(s)
			}
			v = s
		case keySMTPPort:
			var n int
			err = json.Unmarshal(raw, &n)
			rule, v = checkPort(n), n
		case keySignupEnabled, keyNoNewSigninMail, keyNoPasswordChangedMail, keyNoEmailChangedMail, keyOAuthLinkVerifiedEmail:
			var b bool
			err, v = json.Unmarshal(raw, &b), b
		case keyOAuthProviders:
			v, rule = checkOAuthProviders(raw)
		case keyOAuthRedirectURLs:
			v, rule = checkRedirectURLs(raw)
		default:
			if !m.schema.hostKeys[key] {
				return nil, invalid(key, "is not a setting")
			}
			// The schema checked the value; it must also fit the Go field.
			if _, err := m.schema.decodeExtra(map[string]json.RawMessage{key: raw}); err != nil {
				return nil, invalid(key, "the value does not fit the field")
			}
			canon, err := canonical(raw)
			if err != nil {
				return nil, invalid(key, "the value does not fit the field")
			}
			out[key] = canon
			continue
		}
		if err != nil {
			return nil, invalid(key, "the value does not fit the field")
		}
		if rule != "" {
			return nil, invalid(key, rule)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("settings: encode %s: %w", key, err)
		}
		out[key] = b
	}
	return out, nil
}

// canonical re-encodes a JSON value: compact, valid UTF-8, numbers as written.
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func (m *Module) testSMTP(ctx context.Context, in smtpTest) error {
	snap := m.cur.Load()
	s := snap.settings
	cfg := s.SMTP()
	withheld := false
	if in.SMTPHostname != nil {
		if rule := checkHostname(*in.SMTPHostname); rule != "" {
			return invalid(keySMTPHostname, rule)
		}
		if !strings.EqualFold(*in.SMTPHostname, s.SMTPHostname) {
			// The stored password goes to the stored server only.
			cfg.Password, withheld = "", true
		}
		cfg.Host = *in.SMTPHostname
	}
	if in.SMTPPort != nil {
		cfg.Port = *in.SMTPPort
	}
	if in.SMTPUsername != nil {
		if rule := checkUsername(*in.SMTPUsername); rule != "" {
			return invalid(keySMTPUsername, rule)
		}
		cfg.Username = *in.SMTPUsername
	}
	if in.SMTPPassword != nil {
		if rule := checkPassword(*in.SMTPPassword); rule != "" {
			return invalid(keySMTPPassword, rule)
		}
		cfg.Password, withheld = *in.SMTPPassword, false
	}
	if cfg.Host == "" {
		return rpc.BadRequest("no SMTP server to test: give smtp_hostname, or store one with update")
	}
	if withheld && cfg.Username != "" && (s.SMTPPassword != "" || snap.unreadable[keySMTPPassword] != nil) {
		return rpc.BadRequest("give smtp_password: the stored password is only sent to the stored smtp_hostname")
	}
	if err := snap.unreadable[keySMTPPassword]; err != nil && in.SMTPPassword == nil && !withheld && cfg.Username != "" {
		m.log.ErrorContext(ctx, "settings: test-smtp needs the stored password, which does not decrypt", "err", err)
		return rpc.BadRequest("the stored smtp_password does not decrypt with this server's settings key: give smtp_password, or store it again with update")
	}
	err := mailer.Test(ctx, cfg, m.opts.Mailer)
	var e *mailer.Error
	if errors.As(err, &e) {
		return rpc.Errorf(rpc.CodeBadRequest, "SMTP test failed: %w", e)
	}
	if err != nil {
		return fmt.Errorf("settings: test smtp: %w", err)
	}
	return nil
}
