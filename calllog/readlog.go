package calllog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
)

// maxScanRows bounds the rows a read-log filtered by more than dates
// examines to count its matches, once its page is complete: such a filter
// must unpack every row it counts, and a method's log can hold millions.
// (Options.maxScanRows changes it for tests.)
const maxScanRows = 1_000_000

// readLog answers the rows of one method that match the options' where,
// newest first, with meta.total. A filter on more than dates that stopped
// counting at maxScanRows says so in meta.partial, with meta.scanned_to:
// the rows not examined started at or before it.
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
	f, err := newLogFilter(opts)
	if err != nil {
		return rpc.Result{}, err
	}
	if !m.registered(id) {
		return rpc.Result{}, rpc.NotFound("method %s not found", rpc.Quote(id))
	}
	var page logPage
	// One snapshot, so that meta.total agrees with the page while rows arrive.
	err = m.db.RunInTx(ctx, m.snapshot(), func(ctx context.Context, tx bun.Tx) error {
		var err error
		page, err = readRows(ctx, tx, m.tables, id, f, opts.Limit, opts.Offset, m.opts.maxScanRows)
		return err
	})
	if err != nil {
		return rpc.Result{}, fmt.Errorf("calllog: read log: %w", err)
	}
	res := rpc.Page(page.rows, page.total)
	if page.partial {
		res.Meta["partial"] = true
		res.Meta["scanned_to"] = time.UnixMicro(page.scannedTo).UTC()
	}
	return res, nil
}

// logPage is a page of read-log and what it knows of the rest.
type logPage struct {
	rows      []Row
	total     int
	partial   bool  // total counts the rows examined only
	scannedTo int64 // with partial: rows not examined started at or before it (Unix µs)
}

// readRows reads a page of the rows of the method named id that f lets
// through, newest first, and how many there are. A filter of dates alone
// counts in SQL the rows of the batches within its range and unpacks the
// few that straddle it; any other filter counts as it reads (see
// maxScanRows). A method without a number has no rows.
func readRows(ctx context.Context, tx bun.Tx, t tables, id string, f *logFilter, limit, offset, maxScan int) (logPage, error) {
	var method int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM ? WHERE name = ?", bun.Ident(t.methods), id).Scan(&method)
	if errors.Is(err, sql.ErrNoRows) {
		return logPage{rows: []Row{}}, nil
	}
	if err != nil {
		return logPage{}, fmt.Errorf("method: %w", err)
	}
	// The options' limit is 1..MaxLimit; the offset is not negative.
	want := offset + limit
	s := scanner{tx: tx, t: t, method: method, f: f, want: want, maxScan: maxScan}
	if f.datesOnly() {
		if err := s.countDates(ctx); err != nil {
			return logPage{}, err
		}
		err = s.scan(ctx, false)
	} else {
		err = s.scan(ctx, true)
	}
	if err != nil {
		return logPage{}, err
	}
	page := logPage{rows: []Row{}, total: s.matched, partial: s.partial, scannedTo: s.scannedTo}
	for i := offset; i < len(s.kept) && i < want; i++ {
		page.rows = append(page.rows, s.kept[i].answer(id))
	}
	return page, nil
}

// scanner reads a method's batches for read-log.
type scanner struct {
	tx     bun.Tx
	t      tables
	method int64
	f      *logFilter
	want   int // the rows the page needs, its offset's included
	// maxScan bounds the rows a counting scan examines once the page is complete
	maxScan int

	kept      []packedRow // the newest matches, newest first, at most want once sorted
	matched   int         // matches counted
	partial   bool
	scannedTo int64
	buf       []packedRow
}

// countDates counts the rows within the filter's dates: the sum of the
// counts of the batches within them, and the matches of those that
// straddle either end.
func (s *scanner) countDates(ctx context.Context) error {
	var n int64
	err := s.tx.QueryRowContext(ctx, "SELECT COALESCE(SUM(n), 0) FROM ? WHERE method = ? AND first_date >= ? AND last_date <= ?",
		bun.Ident(s.t.batches), s.method, s.f.from, s.f.to).Scan(&n)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	s.matched = int(n)
	q, err := s.tx.QueryContext(ctx, `SELECT id, first_date, n, data FROM ? WHERE method = ? AND last_date >= ? AND first_date <= ?
	AND (first_date < ? OR last_date > ?)`, bun.Ident(s.t.batches), s.method, s.f.from, s.f.to, s.f.from, s.f.to)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var b packedBatch
		if err := q.Scan(&b.id, &b.firstDate, &b.n, &b.data); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		if s.buf, _, _, err = b.unpack(s.buf[:0]); err != nil {
			return err
		}
		for i := range s.buf {
			if s.f.matches(&s.buf[i]) {
				s.matched++
			}
		}
	}
	if err := q.Err(); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	return nil
}

// scan reads the batches that can hold rows within the filter's dates,
// newest first, keeping the newest want matches. A batch can hold rows
// older than some of an older batch's (a long call is written after
// shorter ones that started later), so the batches are read until the
// next one's newest row is older than the page's last. With count, it
// goes on counting matches to the last batch, or until it has examined
// maxScanRows rows.
func (s *scanner) scan(ctx context.Context, count bool) error {
	q, err := s.tx.QueryContext(ctx, `SELECT id, first_date, last_date, n, data FROM ? WHERE method = ? AND last_date >= ? AND first_date <= ?
	ORDER BY last_date DESC, id DESC`, bun.Ident(s.t.batches), s.method, s.f.from, s.f.to)
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	defer q.Close()
	examined := 0
	for q.Next() {
		var b packedBatch
		var last int64
		if err := q.Scan(&b.id, &b.firstDate, &last, &b.n, &b.data); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		complete := len(s.kept) >= s.want && s.kept[s.want-1].date > last
		if complete && !count {
			break
		}
		if complete && examined >= s.maxScan {
			s.partial, s.scannedTo = true, last
			break
		}
		if s.buf, _, _, err = b.unpack(s.buf[:0]); err != nil {
			return err
		}
		examined += len(s.buf)
		for i := range s.buf {
			if s.f.matches(&s.buf[i]) {
				s.kept = append(s.kept, s.buf[i])
				if count {
					s.matched++
				}
			}
		}
		if len(s.kept) >= s.want {
			slices.SortFunc(s.kept, batchRowsOrder)
			s.kept = s.kept[:s.want]
		}
	}
	if err := q.Err(); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	slices.SortFunc(s.kept, batchRowsOrder)
	return nil
}
