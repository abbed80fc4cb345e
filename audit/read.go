package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage/readsql"
)

// Prefix is the path under which the module's method is registered.
const Prefix = "/v1/admin/audit"

// readSpec declares read's options: the filters SPEC §11 names, newest
// first by default. where holds one condition per field, so a range of
// times is created_from and created_to (as the call log's read-log has
// date_from and date_to), beside created's one bound.
var readSpec = &read.Spec{
	Fields: []read.Field{
		{Name: "id", Column: "a.id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
		{Name: "created", Column: "a.created", Type: read.Time, Conditions: []string{"<", ">"}, Sortable: true},
		{Name: "created_from", Column: "a.created", Type: read.Time, Conditions: []string{">", ">="}},
		{Name: "created_to", Column: "a.created", Type: read.Time, Conditions: []string{"<", "<="}},
		{Name: "action", Column: "a.action", Conditions: []string{"="}, Sortable: true},
		{Name: "actor_id", Column: "a.actor_id", Type: read.ID, Conditions: []string{"="}},
		{Name: "target_id", Column: "a.target_id", Conditions: []string{"="}},
	},
	MaxLimit:     100,
	DefaultOrder: []read.Order{{Field: "id", Desc: true}},
}

// Record is an entry as read answers it.
type Record struct {
	ID      int64     `json:"id,string"`
	Created time.Time `json:"created"`
	Action  string    `json:"action"`
	// ActorID is the user who acted; null for a guest.
	ActorID *string `json:"actor_id"`
	// ActorKind is how the actor acted: ActorSession, ActorToken,
	// ActorGuest, ActorHost, or a host authenticator's kind.
	ActorKind string `json:"actor_kind"`
	// ActorTokenID is the session's or API token's id; null for a guest or
	// the host.
	ActorTokenID *string         `json:"actor_token_id"`
	TargetID     *string         `json:"target_id"`
	Changes      json.RawMessage `json:"changes"`
	// RemoteAddress and UserAgent are the client's, null outside a call.
	RemoteAddress *string `json:"remote_address"`
	UserAgent     *string `json:"user_agent"`
	// Result is ResultOK, or why the change was refused.
	Result string `json:"result"`
}

func (m *Module) register(reg *rpc.Registry) {
	reg.Section(Prefix, "Audit trail").Register(rpc.Method{
		ID:    "read",
		Title: "Read the audit trail",
		Description: "Answers entries of the audit trail, newest first, the total in `meta.total`: who changed what " +
			"(`actor_id`, `actor_kind`, `target_id`, `action`), the fields set (`changes`, secrets never), " +
			"from which address and user agent, the `result` and when (`created`).",
		Permissions: []string{m.opts.Permission},
		Params:      []rpc.Param{{Name: "options?", Read: readSpec}},
		Handler:     m.read,
		DataType:    reflect.TypeFor[[]Record](),
	})
}

func (m *Module) read(ctx context.Context, opts read.Options) (rpc.Result, error) {
	var rows []row
	// id last, so that pages sorted by a column with ties are stable.
	q := readsql.Apply(m.db.NewSelect().Model(&rows).ModelTableExpr(m.table), opts).OrderExpr("a.id DESC")
	if err := q.Scan(ctx); err != nil {
		return rpc.Result{}, fmt.Errorf("audit: read: %w", err)
	}
	total, err := readsql.ApplyWhere(m.db.NewSelect().Model((*row)(nil)).ModelTableExpr(m.table), opts).Count(ctx)
	if err != nil {
		return rpc.Result{}, fmt.Errorf("audit: read: count: %w", err)
	}
	out := make([]Record, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return rpc.ReadPage(opts, out, int(total))
}

func (r *row) record() Record {
	return Record{
		ID:            r.ID,
		Created:       r.Created.UTC(),
		Action:        r.Action,
		ActorID:       idString(r.ActorID),
		ActorKind:     r.ActorKind,
		ActorTokenID:  idString(r.ActorTokenID),
		TargetID:      r.TargetID,
		Changes:       json.RawMessage(r.Changes),
		RemoteAddress: r.RemoteAddress,
		UserAgent:     r.UserAgent,
		Result:        r.Result,
	}
}

func idString(id *int64) *string {
	if id == nil {
		return nil
	}
	s := strconv.FormatInt(*id, 10)
	return &s
}
