package settings

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// changes are the fields an update changes, as the audit trail records
// them: a field whose stored value it repeats is left out; a secret is
// true when set and false when cleared, never its value. values are
// canonical JSON, not sealed yet.
func (m *Module) changes(stored, values map[string]json.RawMessage) map[string]any {
	out := make(map[string]any, len(values))
	for k, raw := range values {
		if m.schema.secret(k) {
			out[k] = !bytes.Equal(raw, []byte(`""`)) && !bytes.Equal(raw, []byte(`null`))
			continue
		}
		if bytes.Equal(stored[k], raw) {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(raw) // canonical JSON always decodes; kept as text if not
		}
		out[k] = v
	}
	return out
}

// record writes the entry of an update through tx, when it changed anything.
func (m *Module) record(ctx context.Context, tx bun.IDB, changes map[string]any) error {
	if m.opts.Audit == nil || len(changes) == 0 {
		return nil
	}
	return m.opts.Audit.Record(ctx, tx, storage.AuditEntry{Action: "settings.update", Changes: changes})
}

// recordRefusal records an update refused by the rules.
func (m *Module) recordRefusal(ctx context.Context, refusal *rpc.Error) {
	if m.opts.Audit == nil {
		return
	}
	err := m.opts.Audit.Record(ctx, m.db, storage.AuditEntry{Action: "settings.update", Result: "forbidden: " + refusal.Message})
	if err != nil {
		m.log.ErrorContext(ctx, "settings: record a refused update in the audit trail", "err", err)
	}
}
