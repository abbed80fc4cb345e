package calllog

import (
	"context"
	"database/sql"
	"reflect"

	"github.com/authrpc/authrpc/rpc"
)

// Prefix is the path of the call log's methods.
const Prefix = "/v1/admin/api-call-log"

func (m *Module) register() {
	perms := []string{m.opts.Permission}
	mod := m.reg.Section(Prefix, "Application API call log")
	mod.Register(rpc.Method{
		ID:    "read-log",
		Title: "Read API method access log",
		Description: "Answers the logged calls of one method (`method_id` is required in `where`), newest first, the total in `meta.total`. " +
			"`where` narrows them by `status` and `user_id` (`=`, `!=`, `in`, `not in`; a `user_id` of null is a guest), " +
			"by when they started (`date_from` with `>=` or `>`, `date_to` with `<` or `<=`, RFC 3339 times), " +
			"by `is_error`, `is_declined` and `is_exception`, and by `remote_address` (`=`, `!=`; null: not known). " +
			"A filter on more than dates counts its matches by reading the rows; past 1,000,000 rows it stops, " +
			"and `meta.partial` is true and `meta.scanned_to` says from when on down the rows were not examined.",
		Permissions: perms,
		Params:      []rpc.Param{{Name: "options?", Read: readLogSpec}},
		DataType:    reflect.TypeFor[[]Row](),
		Handler:     m.readLog,
	})
	mod.Register(rpc.Method{
		ID:          "read-latest-stat",
		Title:       "Read statistics for the last 60 minutes",
		Description: "Statistics updated every 10 seconds. Data resolution is 1 minute.",
		Permissions: perms,
		Params:      []rpc.Param{{Name: "method_id?"}},
		DataType:    reflect.TypeFor[[]MethodStats](),
		Handler:     m.readLatestStat,
	})
	mod.Register(rpc.Method{
		ID:          "read-history-stat",
		Title:       "Read statistics for the given API method for the last 30 days",
		Description: "Statistics updated every 1 minute. Data resolution is 10 minutes.",
		Permissions: perms,
		Params:      []rpc.Param{{Name: "method_id"}},
		DataType:    reflect.TypeFor[MethodStats](),
		Handler:     m.readHistoryStat,
	})
	mod.Register(rpc.Method{
		ID:    "read-overview",
		Title: "Read an overview of every method for the last 60 minutes",
		Description: "Answers, for every logged method, its calls over the window of `read-latest-stat`: " +
			"`calls` = `ok` + `errors` + `declined`, `accepted` = `ok` + `errors` (`exceptions` are some of the `errors`), " +
			"and the accepted calls' `avg_runtime`, `p95_runtime` (estimated, within a quarter) and `max_runtime` in milliseconds. " +
			"`meta.from` and `meta.to` bound the window. Updated every 10 seconds.",
		Permissions: perms,
		DataType:    reflect.TypeFor[[]Overview](),
		Handler:     m.readOverview,
	})
}

// snapshot are the options of a read-only transaction that sees one
// snapshot. (On SQLite a read-only transaction stays deferred: it takes no
// write lock.)
func (m *Module) snapshot() *sql.TxOptions {
	if m.pg {
		return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	return &sql.TxOptions{ReadOnly: true}
}

// readLatestStat answers the last hour in minute buckets for one method, or
// for every method with the call log on.
func (m *Module) readLatestStat(ctx context.Context, methodID *string) (rpc.Result, error) {
	var ids []string
	if methodID != nil {
		if !m.registered(*methodID) {
			return rpc.Result{}, rpc.NotFound("method %s not found", rpc.Quote(*methodID))
		}
		ids = []string{*methodID}
	} else {
		ids = m.loggedMethods()
	}
	now := m.opts.Now().UTC()
	g, err := m.readGrid(ctx, m.latest, ids, methodID == nil, now)
	if err != nil {
		return rpc.Result{}, err
	}
	active := func(string) *rpc.ActiveCalls { return nil }
	if methodID == nil {
		active = func(id string) *rpc.ActiveCalls {
			if a, ok := m.reg.Active(id); ok {
				return &a
			}
			return nil
		}
	}
	return rpc.Result{Data: latestJSON(g, now, active)}, nil
}

// readHistoryStat answers the last 30 days of one method in ten-minute buckets.
func (m *Module) readHistoryStat(ctx context.Context, methodID string) (rpc.Result, error) {
	if !m.registered(methodID) {
		return rpc.Result{}, rpc.NotFound("method %s not found", rpc.Quote(methodID))
	}
	now := m.opts.Now().UTC()
	g, err := m.readGrid(ctx, m.history, []string{methodID}, false, now)
	if err != nil {
		return rpc.Result{}, err
	}
	return rpc.Result{Data: historyJSON(g, now)}, nil
}

// registered reports whether the registry has a method with this id.
// Methods may be registered after Mount, so the registry is asked each time.
func (m *Module) registered(id string) bool {
	for _, info := range m.reg.Methods() {
		if info.ID == id {
			return true
		}
	}
	return false
}

func (m *Module) loggedMethods() []string {
	var ids []string
	for _, info := range m.reg.Methods() {
		if info.CallLog {
			ids = append(ids, info.ID)
		}
	}
	return ids
}
