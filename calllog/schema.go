package calllog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
		{Version: 4, Name: "call log rows packed in batches by method", Up: func(ctx context.Context, tx bun.Tx) error {
			if err := storage.SQL(storage.Prefixed(t.prefix, batchesPostgres), storage.Prefixed(t.prefix, batchesSQLite))(ctx, tx); err != nil {
				return err
			}
			return packCalls(ctx, tx, t)
		}},
		{Version: 5, Name: "call log runtime bins by method and minute", Up: storage.SQL(storage.Prefixed(t.prefix, runtimePostgres), storage.Prefixed(t.prefix, runtimeSQLite))},
	}
}

// The runtime bins of version 5 (see runtime.go): a row per method,
// minute and bin that calls fell in, which merges add to like the buckets.
// The overview reads an hour of them through the index on date.
const runtimePostgres = `
CREATE TABLE {prefix}calllog_runtime_1m (
	method_id TEXT        NOT NULL,
	date      TIMESTAMPTZ NOT NULL,
	bin       SMALLINT    NOT NULL,
	n         BIGINT      NOT NULL,
	PRIMARY KEY (method_id, date, bin)
);
CREATE INDEX {prefix}calllog_runtime_1m_date ON {prefix}calllog_runtime_1m (date);
`

const runtimeSQLite = `
CREATE TABLE {prefix}calllog_runtime_1m (
	method_id TEXT      NOT NULL,
	date      TIMESTAMP NOT NULL,
	bin       INTEGER   NOT NULL,
	n         INTEGER   NOT NULL,
	PRIMARY KEY (method_id, date, bin)
);
CREATE INDEX {prefix}calllog_runtime_1m_date ON {prefix}calllog_runtime_1m (date);
`

// The batches of version 4 (see pack.go) cost the database a row and two
// index entries per method and write instead of a row and an index entry
// per call. Dates are Unix microseconds on both databases. (method,
// last_date) serves read-log, which reads a method's batches newest first,
// and retention; (method, first_date) finds the batches that hold rows on
// both sides of the retention's cutoff.
const batchesPostgres = `
CREATE TABLE {prefix}calllog_batches (
	id         BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	method     INTEGER NOT NULL,
	first_date BIGINT  NOT NULL,
	last_date  BIGINT  NOT NULL,
	n          INTEGER NOT NULL,
	data       BYTEA   NOT NULL
);
CREATE INDEX {prefix}calllog_batches_last ON {prefix}calllog_batches (method, last_date);
CREATE INDEX {prefix}calllog_batches_first ON {prefix}calllog_batches (method, first_date);
`

const batchesSQLite = `
CREATE TABLE {prefix}calllog_batches (
	id         INTEGER PRIMARY KEY,
	method     INTEGER NOT NULL,
	first_date INTEGER NOT NULL,
	last_date  INTEGER NOT NULL,
	n          INTEGER NOT NULL,
	data       BLOB    NOT NULL
);
CREATE INDEX {prefix}calllog_batches_last ON {prefix}calllog_batches (method, last_date);
CREATE INDEX {prefix}calllog_batches_first ON {prefix}calllog_batches (method, first_date);
`

// packChunk is how many rows of the calls table packCalls reads at a
// time, and packedPerBatch how many it packs into one batch.
const (
	packChunk      = 10_000
	packedPerBatch = 1_000
)

// packCalls moves the rows of version 3's calls table into batches, in
// the order of its index (method, date, id), keeping their ids, and drops
// it. The batches it makes are numbered above every old id >> 16, so that
// the implicit ids of later batches are larger than every old one.
func packCalls(ctx context.Context, tx bun.Tx, t tables) error {
	pg := storage.IsPostgres(tx)
	var maxID int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(max(id), 0) FROM ?", bun.Ident(t.calls)).Scan(&maxID); err != nil {
		return fmt.Errorf("calllog: pack rows: %w", err)
	}
	next := maxID>>batchIDShift + 1
	dateMicros := "date"
	if pg {
		dateMicros = "CAST(EXTRACT(EPOCH FROM date) * 1000000 AS BIGINT)"
	}
	query := "SELECT id, method, user_id, date, " + dateMicros + `, runtime, status, status_text, flags FROM ?
	WHERE (method, date, id) > (?, ?, ?) ORDER BY method, date, id LIMIT ?`
	var (
		rows    []packedRow
		method  int64  = -1
		after   [3]any // the last row read: method, date, id
		data    []byte
		started = false
	)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		sortRows(rows)
		data = appendPacked(data[:0], rows, true, 0, nil)
		_, err := tx.ExecContext(ctx, "INSERT INTO ? (id, method, first_date, last_date, n, data) VALUES (?, ?, ?, ?, ?, ?)",
			bun.Ident(t.batches), next, method, rows[0].date, rows[len(rows)-1].date, len(rows), data)
		next++
		rows = rows[:0]
		return err
	}
	for {
		q, args := query, []any{bun.Ident(t.calls), after[0], after[1], after[2], packChunk}
		if !started {
			q, args = strings.Replace(query, "WHERE (method, date, id) > (?, ?, ?) ", "", 1), []any{bun.Ident(t.calls), packChunk}
		}
		read, err := packRead(ctx, tx, q, args, func(r packedRow, m int64, date any) error {
			if m != method || len(rows) == packedPerBatch {
				if err := flush(); err != nil {
					return err
				}
				method = m
			}
			rows = append(rows, r)
			after = [3]any{m, date, r.id}
			return nil
		})
		if err != nil {
			return fmt.Errorf("calllog: pack rows: %w", err)
		}
		started = true
		if read < packChunk {
			break
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("calllog: pack rows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE ?", bun.Ident(t.calls)); err != nil {
		return fmt.Errorf("calllog: drop the rows table: %w", err)
	}
	if pg {
		_, err := tx.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)", t.batches, next)
		if err != nil {
			return fmt.Errorf("calllog: number batches: %w", err)
		}
	}
	return nil
}

// packRead reads the old rows query selects, all of them before the
// first is packed (PostgreSQL takes no statement on a connection whose
// rows are being read), and hands each to fn with its method and its date
// as stored. It answers how many it read.
func packRead(ctx context.Context, tx bun.Tx, query string, args []any, fn func(r packedRow, method int64, date any) error) (int, error) {
	type old struct {
		r      packedRow
		method int64
		date   any
	}
	q, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	var all []old
	for q.Next() {
		var o old
		var user sql.NullInt64
		var text sql.NullString
		var flags int64
		if err := q.Scan(&o.r.id, &o.method, &user, &o.date, &o.r.date, &o.r.runtime, &o.r.status, &text, &flags); err != nil {
			_ = q.Close()
			return 0, err
		}
		o.r.user, o.r.flags = user.Int64, uint8(flags)
		o.r.hasText, o.r.text = text.Valid, text.String
		all = append(all, o)
	}
	if err := q.Close(); err != nil {
		return 0, err
	}
	if err := q.Err(); err != nil {
		return 0, err
	}
	for _, o := range all {
		if err := fn(o.r, o.method, o.date); err != nil {
			return 0, err
		}
	}
	return len(all), nil
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
	// RemoteAddress is the client's IP address (rpc.Call.ClientAddr); nil
	// when not known, as for calls logged before it was stored.
	RemoteAddress *string `json:"remote_address"`
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
