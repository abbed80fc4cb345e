package calllog

import (
	"sync/atomic"
	"time"
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

// MethodStats is a method's buckets, oldest first: the shape of each
// method in the answers of read-latest-stat and read-history-stat (which
// are encoded straight from the stored buckets, in this shape).
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

// window is a series of buckets ending with the one that holds now.
type window struct {
	table string
	step  int64 // seconds
	n     int
	dates *atomic.Pointer[windowDates] // the last answer's, shared by the next ones
}

// latestWindow is read-latest-stat's: an hour of minute buckets.
func latestWindow(t tables) window {
	return window{table: t.stat1m, step: 60, n: 60, dates: new(atomic.Pointer[windowDates])}
}

// historyWindow is read-history-stat's: 30 days of ten-minute buckets.
func historyWindow(t tables) window {
	return window{table: t.stat10m, step: 600, n: 30 * 24 * 6, dates: new(atomic.Pointer[windowDates])}
}

// bounds are the starts (Unix seconds) of w's first and last bucket at now.
func (w window) bounds(now time.Time) (first, last int64) {
	last = now.Unix() - mod(now.Unix(), w.step)
	return last - int64(w.n-1)*w.step, last
}
