package calllog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
)

// Prefix is the path of the call log's methods.
const Prefix = "/v1/admin/api-call-log"

// readLogSpec declares read-log's options as the API v1 reference's apiRead
// does: rows of one method, named with "=". They come newest first; there is
// nothing else to sort by.
var readLogSpec = &read.Spec{
	Fields: []read.Field{
		{Name: "method_id", Type: read.String, Conditions: []string{"="}, Required: true},
	},
	MaxLimit: 100,
}

func (m *Module) register() {
	perms := []string{m.opts.Permission}
	mod := m.reg.Section(Prefix, "Application API call log")
	mod.Register(rpc.Method{
		ID:          "read-log",
		Title:       "Read API method access log",
		Description: "Answers the logged calls of one method (`method_id` is required in `where`), newest first, the total in `meta.total`.",
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
}

// readLog answers the rows of one method, newest first, with meta.total.
func (m *Module) readLog(ctx context.Context, opts read.Options) (rpc.Result, error) {
	// The registry hands an omitted options parameter over as defaults,
	// without checking required fields, so check here too.
	v, ok := opts.Value("method_id")
	if !ok {
		return rpc.Result{}, rpc.InvalidParams(`parameter 1 "options": options.where.method_id is required`)
	}
	id, ok := v.(string)
	if !ok {
		return rpc.Result{}, rpc.InvalidParams(`parameter 1 "options": options.where.method_id: expected a string, got null`)
	}
	if !m.registered(id) {
		return rpc.Result{}, rpc.NotFound("method %s not found", rpc.Quote(id))
	}
	var rows []Row
	var total int
	// One snapshot, so that meta.total agrees with the page while rows arrive.
	err := m.db.RunInTx(ctx, m.snapshot(), func(ctx context.Context, tx bun.Tx) error {
		var err error
		rows, total, err = readRows(ctx, tx, m.tables, id, opts.Limit, opts.Offset)
		return err
	})
	if err != nil {
		return rpc.Result{}, fmt.Errorf("calllog: read log: %w", err)
	}
	return rpc.Page(rows, total), nil
}

// readRows reads a page of the rows of the method named id, newest first,
// and how many it has in all: the sum of its batches' counts, and of its
// batches, newest first, as many as hold the page. A batch can hold rows
// older than some of an older batch's (a long call is written after
// shorter ones that started later), so the batches are read until the
// next one's newest row is older than the page's last. A method without
// a number has no rows.
func readRows(ctx context.Context, tx bun.Tx, t tables, id string, limit, offset int) ([]Row, int, error) {
	var method int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM ? WHERE name = ?", bun.Ident(t.methods), id).Scan(&method)
	if errors.Is(err, sql.ErrNoRows) {
		return []Row{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("method: %w", err)
	}
	var total int64
	err = tx.QueryRowContext(ctx, "SELECT COALESCE(SUM(n), 0) FROM ? WHERE method = ?", bun.Ident(t.batches), method).Scan(&total)
	if err != nil {
		return nil, 0, fmt.Errorf("count: %w", err)
	}
	// The options' limit is 1..MaxLimit; the offset is not negative.
	want := offset + limit
	q, err := tx.QueryContext(ctx, "SELECT id, first_date, last_date, n, data FROM ? WHERE method = ? ORDER BY last_date DESC, id DESC",
		bun.Ident(t.batches), method)
	if err != nil {
		return nil, 0, fmt.Errorf("select: %w", err)
	}
	defer q.Close()
	var rows []packedRow
	for q.Next() {
		var b packedBatch
		var last int64
		if err := q.Scan(&b.id, &b.firstDate, &last, &b.n, &b.data); err != nil {
			return nil, 0, fmt.Errorf("scan: %w", err)
		}
		if len(rows) >= want && rows[want-1].date > last {
			break
		}
		if rows, _, _, err = b.unpack(rows); err != nil {
			return nil, 0, err
		}
		if len(rows) >= want {
			slices.SortFunc(rows, batchRowsOrder)
			rows = rows[:want]
		}
	}
	if err := q.Err(); err != nil {
		return nil, 0, fmt.Errorf("select: %w", err)
	}
	slices.SortFunc(rows, batchRowsOrder)
	page := []Row{}
	for i := offset; i < len(rows) && i < want; i++ {
		page = append(page, rows[i].answer(id))
	}
	return page, int(total), nil
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
