package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
)

// snapshot is the settings as loaded: typed, and as read answers them.
// It is never changed once built.
type snapshot struct {
	settings Settings
	read     json.RawMessage

	// unreadable holds the secret settings stored but not decryptable with
	// Options.Keys, by key: each a *SecretError. Their fields hold defaults.
	unreadable map[string]error
}

// err reports every unreadable secret setting, or nil.
func (s *snapshot) err() error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(s.unreadable)) {
		errs = append(errs, s.unreadable[k])
	}
	return errors.Join(errs...)
}

// view is what read answers of the built-in fields.
type view struct {
	AppURL          string `json:"app_url"`
	SMTPFrom        string `json:"smtp_from"`
	SMTPHostname    string `json:"smtp_hostname"`
	SMTPPort        int    `json:"smtp_port"`
	SMTPUsername    string `json:"smtp_username"`
	SMTPPasswordSet bool   `json:"smtp_password_set"`
	SignupEnabled   bool   `json:"signup_enabled"`

	NoNewSigninMail        bool                         `json:"no_new_signin_mail"`
	NoPasswordChangedMail  bool                         `json:"no_password_changed_mail"`
	NoEmailChangedMail     bool                         `json:"no_email_changed_mail"`
	OAuthProviders         map[string]oauthProviderView `json:"oauth_providers"`
	OAuthRedirectURLs      []string                     `json:"oauth_redirect_urls"`
	OAuthLinkVerifiedEmail bool                         `json:"oauth_link_verified_email"`
}

// build makes a snapshot of the stored rows over the defaults. A stored
// value that no longer fits its field (a host field whose type changed, say)
// is logged and its default used.
func (m *Module) build(ctx context.Context, stored map[string]json.RawMessage) *snapshot {
	rows, unreadable := m.openSealed(stored)
	s := *m.opts.Defaults
	s.extra = nil
	load(m, ctx, rows, keyAppURL, &s.AppURL)
	load(m, ctx, rows, keySMTPFrom, &s.SMTPFrom)
	load(m, ctx, rows, keySMTPHostname, &s.SMTPHostname)
	load(m, ctx, rows, keySMTPPort, &s.SMTPPort)
	load(m, ctx, rows, keySMTPUsername, &s.SMTPUsername)
	load(m, ctx, rows, keySMTPPassword, &s.SMTPPassword)
	load(m, ctx, rows, keySignupEnabled, &s.SignupEnabled)
	load(m, ctx, rows, keyNoNewSigninMail, &s.NoNewSigninMail)
	load(m, ctx, rows, keyNoPasswordChangedMail, &s.NoPasswordChangedMail)
	load(m, ctx, rows, keyNoEmailChangedMail, &s.NoEmailChangedMail)
	load(m, ctx, rows, keyOAuthProviders, &s.OAuthProviders)
	load(m, ctx, rows, keyOAuthRedirectURLs, &s.OAuthRedirectURLs)
	load(m, ctx, rows, keyOAuthLinkVerifiedEmail, &s.OAuthLinkVerifiedEmail)
	redirects := s.OAuthRedirectURLs
	if redirects == nil {
		redirects = []string{}
	}

	f := m.schema
	if f.extraType != nil {
		values := maps.Clone(f.extraDefaults)
		if values == nil {
			values = map[string]json.RawMessage{}
		}
		for k := range f.hostKeys {
			raw, ok := rows[k]
			if !ok {
				continue
			}
			if _, err := f.decodeExtra(map[string]json.RawMessage{k: raw}); err != nil {
				m.log.WarnContext(ctx, "settings: a stored value does not fit its field; using the default", "key", k, "err", err)
				continue
			}
			values[k] = raw
		}
		extra, err := f.decodeExtra(values)
		if err != nil { // each value fits on its own, so this is not expected
			m.log.ErrorContext(ctx, "settings: the host fields do not decode; using the defaults", "err", err)
			extra, _ = f.decodeExtra(f.extraDefaults)
		}
		s.extra = extra
	}

	b, _ := json.Marshal(view{
		AppURL: s.AppURL, SMTPFrom: s.SMTPFrom, SMTPHostname: s.SMTPHostname, SMTPPort: s.SMTPPort,
		SMTPUsername: s.SMTPUsername, SMTPPasswordSet: s.SMTPPassword != "" || unreadable[keySMTPPassword] != nil,
		SignupEnabled:   s.SignupEnabled,
		NoNewSigninMail: s.NoNewSigninMail, NoPasswordChangedMail: s.NoPasswordChangedMail, NoEmailChangedMail: s.NoEmailChangedMail,
		OAuthProviders: oauthView(s.OAuthProviders), OAuthRedirectURLs: redirects, OAuthLinkVerifiedEmail: s.OAuthLinkVerifiedEmail,
	})
	// Secret host fields are write-only, as smtp_password is.
	if extra := withoutKeys(s.extra, f.hostSecrets); len(extra) > 2 { // more than "{}": the host's fields follow the built-in ones
		b = append(b[:len(b)-1], ',')
		b = append(b, extra[1:]...)
	}
	return &snapshot{settings: s, read: b, unreadable: unreadable}
}

// openSealed returns the stored rows with sealed values decrypted, and the
// errors of those that do not decrypt, which are left out.
func (m *Module) openSealed(stored map[string]json.RawMessage) (map[string]json.RawMessage, map[string]error) {
	var rows map[string]json.RawMessage
	var unreadable map[string]error
	for k, raw := range stored {
		if !sealed(raw) {
			continue
		}
		if rows == nil {
			rows = maps.Clone(stored)
		}
		plain, err := m.opts.Keys.open(k, raw)
		if err != nil {
			if unreadable == nil {
				unreadable = map[string]error{}
			}
			unreadable[k] = err
			delete(rows, k)
			continue
		}
		rows[k] = plain
	}
	if rows == nil {
		return stored, nil
	}
	return rows, unreadable
}

// withoutKeys returns the JSON object obj without the members named in
// drop, the others in their order.
func withoutKeys(obj json.RawMessage, drop map[string]bool) json.RawMessage {
	if len(drop) == 0 || len(obj) == 0 {
		return obj
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return obj
	}
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return obj
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return obj
		}
		key, _ := tok.(string)
		if drop[key] {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(key)
		out = append(append(append(out, kb...), ':'), v...)
	}
	return append(out, '}')
}

func load[T any](m *Module, ctx context.Context, rows map[string]json.RawMessage, key string, dst *T) {
	raw, ok := rows[key]
	if !ok {
		return
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		m.log.WarnContext(ctx, "settings: a stored value does not fit its field; using the default", "key", key, "err", err)
		return
	}
	*dst = v
}
