package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Reencrypt stores every secret setting encrypted with the current key of
// Options.Keys, those stored in plain text or under an older key included,
// and answers how many it rewrote. Run it after a key rotation, before the
// old key leaves Options.Keys. It changes nothing when one of them does not
// decrypt, and answers that *SecretError.
func (m *Module) Reencrypt(ctx context.Context) (int, error) {
	if m.opts.Keys == nil {
		return 0, errors.New("settings: reencrypt: Options.Keys is nil")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	rows, err := m.write(ctx, func(stored map[string]json.RawMessage) (map[string]json.RawMessage, error) {
		values, err := m.reseal(stored, nil, true)
		n = len(values)
		return values, err
	}, nil)
	if err != nil {
		return 0, fmt.Errorf("settings: reencrypt: %w", err)
	}
	m.cur.Store(m.build(ctx, rows))
	return n, nil
}

// sealValues returns the values of an update as they are stored: with
// Options.Keys, each secret one sealed, and the stored secrets that are
// plain or under an older key sealed again beside them.
func (m *Module) sealValues(stored, values map[string]json.RawMessage) map[string]json.RawMessage {
	keys := m.opts.Keys
	if keys == nil {
		return values
	}
	out, _ := m.reseal(stored, values, false)
	for k, v := range values {
		if m.schema.secret(k) {
			v = keys.seal(k, v)
		}
		out[k] = v
	}
	return out
}

// reseal returns the stored secret settings not in skip that are not
// sealed with the current key, sealed with it. A value that does not
// decrypt is left out, or, when strict, fails the whole.
func (m *Module) reseal(stored, skip map[string]json.RawMessage, strict bool) (map[string]json.RawMessage, error) {
	keys := m.opts.Keys
	out := map[string]json.RawMessage{}
	for k, raw := range stored {
		if _, ok := skip[k]; ok {
			continue
		}
		isSealed := sealed(raw)
		if !isSealed && !m.schema.secret(k) || isSealed && keyIDOf(raw) == keys.KeyID() {
			continue
		}
		plain := []byte(raw)
		if isSealed {
			var err error
			if plain, err = keys.open(k, raw); err != nil {
				if strict {
					return nil, err
				}
				continue
			}
		}
		out[k] = keys.seal(k, plain)
	}
	return out, nil
}
