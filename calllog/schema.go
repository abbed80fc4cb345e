package calllog

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// bucketColumns are the columns of both bucket tables. Buckets hold sums,
// not averages, so that deltas from several instances add up:
// avg = runtime_sum_ns / total_accepted.
const bucketColumns = `total_accepted   BIGINT NOT NULL,
	total_declined   BIGINT NOT NULL,
	total_errors     BIGINT NOT NULL,
	total_exceptions BIGINT NOT NULL,
	runtime_sum_ns   BIGINT NOT NULL,
	runtime_max_ns   BIGINT NOT NULL,
	PRIMARY KEY (method_id, date)`

// migrations are the call log's migrations under t's names. With the
// prefix "" their text is what it was before there was a prefix: a
// database records the versions it applied, not their text.
func migrations(t tables) []storage.Migration {
	return []storage.Migration{
		{Version: 1, Name: "call log rows, minute and ten-minute buckets, flush marks", Up: storage.SQL(storage.Prefixed(t.prefix, `
CREATE TABLE {prefix}calllog_calls (
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
CREATE INDEX {prefix}calllog_calls_method_date ON {prefix}calllog_calls (method_id, date DESC, id DESC);
CREATE TABLE {prefix}calllog_stat_1m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMPTZ NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX {prefix}calllog_stat_1m_date ON {prefix}calllog_stat_1m (date);
CREATE TABLE {prefix}calllog_stat_10m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMPTZ NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX {prefix}calllog_stat_10m_date ON {prefix}calllog_stat_10m (date);
CREATE TABLE {prefix}calllog_flushes (
	token TEXT        PRIMARY KEY,
	date  TIMESTAMPTZ NOT NULL
);
CREATE INDEX {prefix}calllog_flushes_date ON {prefix}calllog_flushes (date);
`), storage.Prefixed(t.prefix, `
CREATE TABLE {prefix}calllog_calls (
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
CREATE INDEX {prefix}calllog_calls_method_date ON {prefix}calllog_calls (method_id, date DESC, id DESC);
CREATE TABLE {prefix}calllog_stat_1m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMP   NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX {prefix}calllog_stat_1m_date ON {prefix}calllog_stat_1m (date);
CREATE TABLE {prefix}calllog_stat_10m (
	method_id        TEXT        NOT NULL,
	date             TIMESTAMP   NOT NULL,
	`+bucketColumns+`
);
CREATE INDEX {prefix}calllog_stat_10m_date ON {prefix}calllog_stat_10m (date);
CREATE TABLE {prefix}calllog_flushes (
	token TEXT      PRIMARY KEY,
	date  TIMESTAMP NOT NULL
);
CREATE INDEX {prefix}calllog_flushes_date ON {prefix}calllog_flushes (date);
`))},
		// A new row has the latest date of its method: in an ascending index it
		// goes to the end of the method's range, where both databases append
		// without splitting pages in the middle; in the descending one it went
		// to the front. Both read it backwards for "date DESC, id DESC" alike.
		{Version: 2, Name: "call log rows indexed ascending, so that new rows append", Up: storage.SQL(storage.Prefixed(t.prefix, ascendingIndex), storage.Prefixed(t.prefix, ascendingIndex))},
		{Version: 3, Name: "call log rows narrowed: method by number, times as integers, flags in one column, one index", Up: storage.SQL(storage.Prefixed(t.prefix, narrowPostgres), storage.Prefixed(t.prefix, narrowSQLite))},
	}
}

const ascendingIndex = `
DROP INDEX {prefix}calllog_calls_method_date;
CREATE INDEX {prefix}calllog_calls_method_date ON {prefix}calllog_calls (method_id, date, id);
`

// The rows of version 3 cost the writer and the database as little as a
// row can: a method is a number (calllog_methods names it), so the one
// index compares integers; a status text is NULL when it is the code's
// default (rpc.StatusText); the three flags share a column (flagDeclined,
// flagError, flagException); runtime is in nanoseconds. On SQLite the date
// is Unix microseconds, an integer, rather than text: no formatting to
// write it, no affinity check, a narrower index. On PostgreSQL it stays a
// timestamptz (binary COPY writes it as microseconds all the same), and the
// id has no index of its own: nothing looks a row up by id, so the
// (method, date, id) index that read-log walks is the only one a row costs.
// Its sequence hands each connection 1,000 ids at a time; ids then only
// break ties between rows of the same microsecond, as read-log uses them.
//
// On SQLite the id is the rowid, without AUTOINCREMENT (which costs a
// lookup and an update of sqlite_sequence per statement): a new row takes
// the largest id plus one, so ids stay in insertion order, and are reused
// only after every newer row was removed.
const narrowPostgres = `
CREATE TABLE {prefix}calllog_methods (
	id   INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
INSERT INTO {prefix}calllog_methods (name) SELECT DISTINCT method_id FROM {prefix}calllog_calls ORDER BY 1;
CREATE SEQUENCE {prefix}calllog_call_ids CACHE 1000;
CREATE TABLE {prefix}calllog_calls_v3 (
	id          BIGINT      NOT NULL DEFAULT nextval('{prefix}calllog_call_ids'),
	method      INTEGER     NOT NULL,
	user_id     BIGINT,
	date        TIMESTAMPTZ NOT NULL,
	runtime     BIGINT      NOT NULL,
	status      INTEGER     NOT NULL,
	status_text TEXT,
	flags       SMALLINT    NOT NULL
);
INSERT INTO {prefix}calllog_calls_v3 (id, method, user_id, date, runtime, status, status_text, flags)
SELECT c.id, m.id, c.user_id, c.date, round(c.runtime * 1000000)::bigint, c.status, c.status_text,
	CASE WHEN c.is_declined THEN 1 ELSE 0 END | CASE WHEN c.is_error THEN 2 ELSE 0 END |
	CASE WHEN c.is_exception THEN 4 ELSE 0 END
FROM {prefix}calllog_calls c JOIN {prefix}calllog_methods m ON m.name = c.method_id;
SELECT setval('{prefix}calllog_call_ids', COALESCE((SELECT max(id) FROM {prefix}calllog_calls), 0) + 1, false);
DROP TABLE {prefix}calllog_calls;
ALTER TABLE {prefix}calllog_calls_v3 RENAME TO {prefix}calllog_calls;
ALTER SEQUENCE {prefix}calllog_call_ids OWNED BY {prefix}calllog_calls.id;
CREATE INDEX {prefix}calllog_calls_method_date ON {prefix}calllog_calls (method, date, id);
`

// narrowSQLite is narrowPostgres for SQLite. The dates were text as bun
// writes them, "2006-01-02 15:04:05.999999+00:00": unixepoch reads the
// seconds, and the digits after the point (up to six, as many as there
// are) the microseconds. The index (method, date) holds the rowid too, so
// it orders rows as (method, date, id).
const narrowSQLite = `
CREATE TABLE {prefix}calllog_methods (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);
INSERT INTO {prefix}calllog_methods (name) SELECT DISTINCT method_id FROM {prefix}calllog_calls ORDER BY 1;
CREATE TABLE {prefix}calllog_calls_v3 (
	id          INTEGER PRIMARY KEY,
	method      INTEGER NOT NULL,
	user_id     INTEGER,
	date        INTEGER NOT NULL,
	runtime     INTEGER NOT NULL,
	status      INTEGER NOT NULL,
	status_text TEXT,
	flags       INTEGER NOT NULL
);
INSERT INTO {prefix}calllog_calls_v3 (id, method, user_id, date, runtime, status, status_text, flags)
SELECT c.id, m.id, c.user_id,
	unixepoch(c.date) * 1000000 + CASE WHEN substr(c.date, 20, 1) = '.' THEN CAST(substr(
		substr(substr(c.date, 21, 6), 1, length(substr(c.date, 21, 6)) - length(ltrim(substr(c.date, 21, 6), '0123456789')))
		|| '000000', 1, 6) AS INTEGER) ELSE 0 END,
	CAST(round(c.runtime * 1000000) AS INTEGER), c.status, c.status_text,
	(c.is_declined <> 0) | ((c.is_error <> 0) << 1) | ((c.is_exception <> 0) << 2)
FROM {prefix}calllog_calls c JOIN {prefix}calllog_methods m ON m.name = c.method_id;
DROP TABLE {prefix}calllog_calls;
ALTER TABLE {prefix}calllog_calls_v3 RENAME TO {prefix}calllog_calls;
CREATE INDEX {prefix}calllog_calls_method_date ON {prefix}calllog_calls (method, date);
`

// Row is one logged call, as read-log answers it.
type Row struct {
	ID       int64  `json:"id,string"`
	MethodID string `json:"method_id"`
	// UserID is nil for a guest.
	UserID *int64 `json:"user_id,string"`
	// Date is when the call started.
	Date time.Time `json:"date"`
	// Runtime is in milliseconds.
	Runtime     float64 `json:"runtime"`
	Status      int     `json:"status"`
	StatusText  string  `json:"status_text"`
	IsDeclined  bool    `json:"is_declined"`
	IsError     bool    `json:"is_error"`
	IsException bool    `json:"is_exception"`
	// Started (Date again) and Finished (Date plus Runtime) are read by
	// @softvisio/core front ends.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
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
	bun.BaseModel `bun:"table:calllog_flushes,alias:fm"` // tables.flushMarks names the table

	Token string    `bun:"token,pk"`
	Date  time.Time `bun:"date"`
}
