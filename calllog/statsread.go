package calllog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// statsGrid is the stored buckets of some methods over a window, placed by
// method and bucket: cells[i*w.n+j] is bucket j of ids[i], zero where
// nothing is stored (an empty bucket answers zeros all the same).
type statsGrid struct {
	w        window
	first    int64 // Unix seconds of bucket 0
	ids      []string
	cells    []counts
	nonEmpty int // cells with a stored bucket
}

// readGrid reads w's buckets of ids at now; with all, it reads the window
// of every method at once and keeps those of ids.
func (m *Module) readGrid(ctx context.Context, w window, ids []string, all bool, now time.Time) (*statsGrid, error) {
	first, last := w.bounds(now)
	g := &statsGrid{w: w, first: first, ids: ids, cells: make([]counts, len(ids)*w.n)}
	if len(ids) == 0 {
		return g, nil
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	query, args := m.statsQuery(w, ids, all, first, last)
	rows, err := m.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("calllog: read %s: %w", w.table, err)
	}
	defer rows.Close()
	// Scanned into any, the driver's own values pass through database/sql
	// without a conversion by reflection.
	var v [8]any
	dest := [8]any{&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]}
	for rows.Next() {
		if err := rows.Scan(dest[:]...); err != nil {
			return nil, fmt.Errorf("calllog: read %s: %w", w.table, err)
		}
		method, _ := v[0].(string)
		i, ok := index[method]
		date, err := intValue(v[1])
		if !ok || err != nil || date < first || date > last {
			continue
		}
		var c counts
		for k, p := range [...]*int64{&c.accepted, &c.declined, &c.errors, &c.exceptions, &c.runtimeSum, &c.runtimeMax} {
			if *p, err = intValue(v[2+k]); err != nil {
				return nil, fmt.Errorf("calllog: read %s: %w", w.table, err)
			}
		}
		g.cells[i*w.n+int((date-first)/w.step)] = c
		g.nonEmpty++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("calllog: read %s: %w", w.table, err)
	}
	return g, nil
}

// intValue is an integer column as a driver gives it.
func intValue(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case float64: // an expression SQLite typed REAL
		return int64(v), nil
	}
	return 0, fmt.Errorf("an integer column read as %T", v)
}

// statsQuery is the statement that reads the stored buckets of w's table
// from first to last (Unix seconds) of ids, or of every method with all,
// and its arguments. Each row is the method, the bucket's start in Unix
// seconds, then the counts in the order of counts. It reads the buckets of
// the window alone, through the table's primary key (method_id, date), or
// with all through its index on date.
func (m *Module) statsQuery(w window, ids []string, all bool, first, last int64) (string, []any) {
	epoch := "unixepoch(date)"
	if m.pg {
		epoch = "CAST(EXTRACT(EPOCH FROM date) AS BIGINT)"
	}
	query := "SELECT method_id, " + epoch + `, total_accepted, total_declined, total_errors, total_exceptions,
	runtime_sum_ns, runtime_max_ns FROM ? WHERE date >= ? AND date <= ?`
	args := []any{bun.Ident(w.table), time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()}
	if !all {
		query += " AND method_id IN (?)"
		args = append(args, bun.List(ids))
	}
	return query, args
}
