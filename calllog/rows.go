package calllog

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
)

// methodIDs maps the queue's method names, by their index, to their numbers
// in the methods table, which every instance sharing the database agrees on.
type methodIDs struct {
	ids   []int64 // by queue index
	boxed []any   // ids, boxed once for INSERT's parameters
}

// resolve numbers the names not numbered yet, adding those that
// the methods table does not hold. It runs outside the batch's transaction,
// so that a new method's row is there for every instance at once; two
// names that clean to the same text share a number.
func (m *methodIDs) resolve(ctx context.Context, db bun.IDB, t tables, names []string) error {
	if len(m.ids) >= len(names) {
		return nil
	}
	fresh := make([]string, 0, len(names)-len(m.ids))
	for _, n := range names[len(m.ids):] {
		fresh = append(fresh, cleanText(n))
	}
	for _, n := range fresh {
		_, err := db.ExecContext(ctx, "INSERT INTO ? (name) VALUES (?) ON CONFLICT (name) DO NOTHING", bun.Ident(t.methods), n)
		if err != nil {
			return fmt.Errorf("add method: %w", err)
		}
	}
	var stored []struct {
		ID   int64  `bun:"id"`
		Name string `bun:"name"`
	}
	err := db.NewSelect().TableExpr("?", bun.Ident(t.methods)).Column("id", "name").
		Where("name IN (?)", bun.List(fresh)).Scan(ctx, &stored)
	if err != nil {
		return fmt.Errorf("read method numbers: %w", err)
	}
	byName := make(map[string]int64, len(stored))
	for _, s := range stored {
		byName[s.Name] = s.ID
	}
	for _, n := range fresh {
		if _, ok := byName[n]; !ok {
			return fmt.Errorf("read method numbers: %q is missing", n)
		}
	}
	for _, n := range fresh {
		m.ids = append(m.ids, byName[n])
		m.boxed = append(m.boxed, byName[n])
	}
	return nil
}

// dateArg is t as the calls table stores it: Unix microseconds on SQLite.
func (m *Module) dateArg(t time.Time) any {
	if m.pg {
		return t.UTC()
	}
	return t.UnixMicro()
}

// dbTime scans a stored date: Unix microseconds on SQLite, a timestamptz
// on PostgreSQL.
type dbTime struct{ time.Time }

func (t *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case int64:
		t.Time = time.UnixMicro(v).UTC()
	case time.Time:
		t.Time = v.UTC()
	default:
		return fmt.Errorf("calllog: a date stored as %T", v)
	}
	return nil
}

// storedRow is a row of the calls table as read-log reads it.
type storedRow struct {
	id      int64
	user    sql.NullInt64
	date    dbTime
	runtime int64 // nanoseconds
	status  int64
	text    sql.NullString // NULL: rpc.StatusText(status)
	flags   int64
}

// storedColumns are the columns of storedRow, in the order scan takes them.
const storedColumns = "id, user_id, date, runtime, status, status_text, flags"

func (r *storedRow) scan(rows *sql.Rows) error {
	return rows.Scan(&r.id, &r.user, &r.date, &r.runtime, &r.status, &r.text, &r.flags)
}

// answer is the row as read-log answers it.
func (r *storedRow) answer(method string) Row {
	out := Row{
		ID:          r.id,
		MethodID:    method,
		Date:        r.date.Time,
		Runtime:     float64(r.runtime) / float64(time.Millisecond),
		Status:      int(r.status),
		StatusText:  r.text.String,
		IsDeclined:  r.flags&flagDeclined != 0,
		IsError:     r.flags&flagError != 0,
		IsException: r.flags&flagException != 0,
		Started:     r.date.Time,
		Finished:    r.date.Add(time.Duration(r.runtime)),
	}
	if !r.text.Valid {
		out.StatusText = rpc.StatusText(out.Status)
	}
	if r.user.Valid {
		out.UserID = &r.user.Int64
	}
	return out
}
