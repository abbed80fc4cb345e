package calllog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Bucket is the statistics of one method over one minute or ten minutes.
type Bucket struct {
	// Date is the bucket's start (UTC, aligned to the minute or ten minutes).
	Date          time.Time `json:"date"`
	TotalAccepted int64     `json:"total_accepted"`
	// TotalDeclined counts calls refused for permissions or a rate limit.
	TotalDeclined int64 `json:"total_declined"`
	// TotalErrors counts accepted calls answered with an error, exceptions included.
	TotalErrors     int64 `json:"total_errors"`
	TotalExceptions int64 `json:"total_exceptions"`
	// ExceptionsPercent is TotalExceptions / TotalAccepted × 100 (0 when none).
	ExceptionsPercent float64 `json:"exceptions_percent"`
	// AvgRuntime and MaxRuntime are in milliseconds, over accepted calls.
	AvgRuntime float64 `json:"avg_runtime"`
	MaxRuntime float64 `json:"max_runtime"`
}

// MethodStats is a method's buckets, oldest first.
//
// Beside them are the fields @softvisio/core's charts read: the method id
// as id, when the answer was made, and the buckets as two series, load and
// requests (avg_runtime there in seconds). read-latest-stat of every
// method also tells each one's bounds on calls in flight (0: none) and how
// many are in flight now on the instance that answers.
type MethodStats struct {
	MethodID string   `json:"method_id"`
	Buckets  []Bucket `json:"buckets"`

	ID          string         `json:"id"`
	LastUpdated time.Time      `json:"last_updated"`
	Load        []LoadPoint    `json:"load"`
	Requests    []RequestPoint `json:"requests"`

	ActiveRequestsLimit     *int   `json:"active_requests_limit,omitempty"`
	ActiveRequestsUserLimit *int   `json:"active_requests_user_limit,omitempty"`
	TotalActiveRequests     *int64 `json:"total_active_requests,omitempty"`
}

// LoadPoint is one bucket of the load chart of @softvisio/core front ends.
type LoadPoint struct {
	Date          time.Time `json:"date"`
	TotalAccepted int64     `json:"total_accepted"`
	TotalDeclined int64     `json:"total_declined"`
}

// RequestPoint is one bucket of the requests chart of @softvisio/core front
// ends; AvgRuntime is in seconds, which that chart expects.
type RequestPoint struct {
	Date              time.Time `json:"date"`
	ExceptionsPercent float64   `json:"exceptions_percent"`
	AvgRuntime        float64   `json:"avg_runtime"`
}

// chartSeries fills the chart fields from the buckets.
func (st *MethodStats) chartSeries(now time.Time) {
	st.ID = st.MethodID
	st.LastUpdated = now
	st.Load = make([]LoadPoint, len(st.Buckets))
	st.Requests = make([]RequestPoint, len(st.Buckets))
	for i, b := range st.Buckets {
		st.Load[i] = LoadPoint{Date: b.Date, TotalAccepted: b.TotalAccepted, TotalDeclined: b.TotalDeclined}
		st.Requests[i] = RequestPoint{Date: b.Date, ExceptionsPercent: b.ExceptionsPercent, AvgRuntime: b.AvgRuntime / 1000}
	}
}

// window is a series of buckets ending with the one that holds now.
type window struct {
	table string
	step  int64 // seconds
	n     int
}

// latestWindow is read-latest-stat's: an hour of minute buckets.
func latestWindow(t tables) window { return window{table: t.stat1m, step: 60, n: 60} }

// historyWindow is read-history-stat's: 30 days of ten-minute buckets.
func historyWindow(t tables) window { return window{table: t.stat10m, step: 600, n: 30 * 24 * 6} }

// bounds are the starts (Unix seconds) of w's first and last bucket at now.
func (w window) bounds(now time.Time) (first, last int64) {
	last = now.Unix() - mod(now.Unix(), w.step)
	return last - int64(w.n-1)*w.step, last
}

// readStats answers w's buckets for each of ids, empty buckets included.
// With all, it reads the window of every method at once.
func (m *Module) readStats(ctx context.Context, w window, ids []string, all bool) (out []MethodStats, err error) {
	at := m.opts.Now().UTC()
	defer func() {
		for i := range out {
			out[i].chartSeries(at)
		}
	}()
	first, last := w.bounds(at)
	out = make([]MethodStats, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		out[i] = MethodStats{MethodID: id, Buckets: make([]Bucket, w.n)}
		for j := range out[i].Buckets {
			out[i].Buckets[j].Date = time.Unix(first+int64(j)*w.step, 0).UTC()
		}
		index[id] = i
	}
	if len(ids) == 0 {
		return out, nil
	}

	var rows []bucketRow
	if err := m.statsQuery(&rows, w, ids, all, first, last).Scan(ctx); err != nil {
		return nil, fmt.Errorf("calllog: read %s: %w", w.table, err)
	}
	for _, r := range rows {
		i, ok := index[r.MethodID]
		j := (r.Date.Unix() - first) / w.step
		if !ok || j < 0 || j >= int64(w.n) {
			continue
		}
		out[i].Buckets[j] = r.bucket()
	}
	return out, nil
}

// statsQuery selects into rows the stored buckets of w's table from first
// to last (Unix seconds) of ids, or of every method with all. It reads
// the buckets of the window alone, through the table's primary key
// (method_id, date), or with all through its index on date.
func (m *Module) statsQuery(rows *[]bucketRow, w window, ids []string, all bool, first, last int64) *bun.SelectQuery {
	q := m.db.NewSelect().Model(rows).ModelTableExpr("? AS bucket_row", bun.Ident(w.table)).
		Where("date >= ?", time.Unix(first, 0).UTC()).
		Where("date <= ?", time.Unix(last, 0).UTC())
	if !all {
		q = q.Where("method_id IN (?)", bun.List(ids))
	}
	return q
}

func (r bucketRow) bucket() Bucket {
	b := Bucket{
		Date:            r.Date.UTC(),
		TotalAccepted:   r.TotalAccepted,
		TotalDeclined:   r.TotalDeclined,
		TotalErrors:     r.TotalErrors,
		TotalExceptions: r.TotalExceptions,
	}
	if r.TotalAccepted > 0 {
		n := float64(r.TotalAccepted)
		b.ExceptionsPercent = float64(r.TotalExceptions) / n * 100
		b.AvgRuntime = float64(r.RuntimeSumNS) / n / float64(time.Millisecond)
		b.MaxRuntime = float64(r.RuntimeMaxNS) / float64(time.Millisecond)
	}
	return b
}
