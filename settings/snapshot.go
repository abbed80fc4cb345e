package settings

import (
	"context"
	"encoding/json"
	"maps"
)

// snapshot is the settings as loaded: typed, and as read answers them.
// It is never changed once built.
type snapshot struct {
	settings Settings
	read     json.RawMessage
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
}

// build makes a snapshot of the stored rows over the defaults. A stored
// value that no longer fits its field (a host field whose type changed, say)
// is logged and its default used.
func (m *Module) build(ctx context.Context, rows map[string]json.RawMessage) *snapshot {
	s := *m.opts.Defaults
	s.extra = nil
	load(m, ctx, rows, keyAppURL, &s.AppURL)
	load(m, ctx, rows, keySMTPFrom, &s.SMTPFrom)
	load(m, ctx, rows, keySMTPHostname, &s.SMTPHostname)
	load(m, ctx, rows, keySMTPPort, &s.SMTPPort)
	load(m, ctx, rows, keySMTPUsername, &s.SMTPUsername)
	load(m, ctx, rows, keySMTPPassword, &s.SMTPPassword)
	load(m, ctx, rows, keySignupEnabled, &s.SignupEnabled)

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
		SMTPUsername: s.SMTPUsername, SMTPPasswordSet: s.SMTPPassword != "", SignupEnabled: s.SignupEnabled,
	})
	if len(s.extra) > 2 { // more than "{}": the host's fields follow the built-in ones
		b = append(b[:len(b)-1], ',')
		b = append(b, s.extra[1:]...)
	}
	return &snapshot{settings: s, read: b}
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
