package calllog

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// Tables. Buckets hold sums, not averages, so that deltas from several
// instances add up: avg = runtime_sum_ns / total_accepted.
const (
	tableCalls    = "calllog_calls"
	tableStat1m   = "calllog_stat_1m"
	tableStat10m  = "calllog_stat_10m"
	tableFlushes  = "calllog_flushes"
	bucketColumns = `total_accepted   BIGINT NOT NULL,
	total_declined   BIGINT NOT NULL,
	total_errors     BIGINT NOT NULL,
	total_exceptions BIGINT NOT NULL,
	runtime_sum_ns   BIGINT NOT NULL,
	runtime_max_ns   BIGINT NOT NULL,
	PRIMARY KEY (method_id, date)`
)

var migrations = []storage.Migration{
	{Version: 1, Name: "call log rows, minute and ten-minute buckets, flush marks", Up: storage.SQL(`
CREATE TABLE calllog_calls (
	id           BIGSERIAL        PRIMARY KEY,
	method_id    TEXT             NOT NULL,
	user_id      BIGINT,
	date         TIMESTAMPTZ      NOT NULL,
	runtime      DOUBLE PRECISION NOT NULL,
	status       INTEGER          NOT NULL,
	status_text  TEXT             NOT NULL,
	is_declined  BOOLEAN          NOT NULL,
	is_error     BOOLEAN          NOT NULL,
	is_exception BOOLEAN          NOT NULL
);
CREATE INDEX calllog_calls_method_date ON calllog_calls (method_id, date DESC, id DESC);
CREATE TABLE calllog_stat_1m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMPTZ NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX calllog_stat_1m_date ON calllog_stat_1m (date);
CREATE TABLE calllog_stat_10m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMPTZ NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX calllog_stat_10m_date ON calllog_stat_10m (date);
CREATE TABLE calllog_flushes (
	token TEXT        PRIMARY KEY,
	date  TIMESTAMPTZ NOT NULL
);
CREATE INDEX calllog_flushes_date ON calllog_flushes (date);
`, `
CREATE TABLE calllog_calls (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	method_id    TEXT    NOT NULL,
	user_id      INTEGER,
	date         TIMESTAMP NOT NULL,
	runtime      REAL    NOT NULL,
	status       INTEGER NOT NULL,
	status_text  TEXT    NOT NULL,
	is_declined  BOOLEAN NOT NULL,
	is_error     BOOLEAN NOT NULL,
	is_exception BOOLEAN NOT NULL
);
CREATE INDEX calllog_calls_method_date ON calllog_calls (method_id, date DESC, id DESC);
CREATE TABLE calllog_stat_1m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMP   NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX calllog_stat_1m_date ON calllog_stat_1m (date);
CREATE TABLE calllog_stat_10m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMP   NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX calllog_stat_10m_date ON calllog_stat_10m (date);
CREATE TABLE calllog_flushes (
	token TEXT      PRIMARY KEY,
	date  TIMESTAMP NOT NULL
);
CREATE INDEX calllog_flushes_date ON calllog_flushes (date);
`)},
	// A new row has the latest date of its method: in an ascending index it
	// goes to the end of the method's range, where both databases append
	// without splitting pages in the middle; in the descending one it went
	// to the front. Both read it backwards for "date DESC, id DESC" alike.
	{Version: 2, Name: "call log rows indexed ascending, so that new rows append", Up: storage.SQL(ascendingIndex, ascendingIndex)},
}

const ascendingIndex = `
DROP INDEX calllog_calls_method_date;
CREATE INDEX calllog_calls_method_date ON calllog_calls (method_id, date, id);
`

// Row is one logged call, as read-log answers it.
type Row struct {
	bun.BaseModel `bun:"table:calllog_calls,alias:c"`

	ID       int64  `bun:"id,pk,autoincrement" json:"id,string"`
	MethodID string `bun:"method_id" json:"method_id"`
	// UserID is nil for a guest.
	UserID *int64 `bun:"user_id" json:"user_id,string"`
	// Date is when the call started.
	Date time.Time `bun:"date" json:"date"`
	// Runtime is in milliseconds.
	Runtime     float64 `bun:"runtime" json:"runtime"`
	Status      int     `bun:"status" json:"status"`
	StatusText  string  `bun:"status_text" json:"status_text"`
	IsDeclined  bool    `bun:"is_declined" json:"is_declined"`
	IsError     bool    `bun:"is_error" json:"is_error"`
	IsException bool    `bun:"is_exception" json:"is_exception"`
	// Started (Date again) and Finished (Date plus Runtime) are read by
	// @softvisio/core front ends.
	Started  time.Time `bun:"-" json:"started"`
	Finished time.Time `bun:"-" json:"finished"`
}

// bucketRow is a stored bucket of either table.
type bucketRow struct {
	MethodID        string    `bun:"method_id"`
	Date            time.Time `bun:"date"`
	TotalAccepted   int64     `bun:"total_accepted"`
	TotalDeclined   int64     `bun:"total_declined"`
	TotalErrors     int64     `bun:"total_errors"`
	TotalExceptions int64     `bun:"total_exceptions"`
	RuntimeSumNS    int64     `bun:"runtime_sum_ns"`
	RuntimeMaxNS    int64     `bun:"runtime_max_ns"`
}

// flushMark records a committed batch, so that a batch retried after an
// error whose outcome is unknown (the connection dropped at COMMIT) is not
// written twice.
type flushMark struct {
	bun.BaseModel `bun:"table:calllog_flushes"`

	Token string    `bun:"token,pk"`
	Date  time.Time `bun:"date"`
}
