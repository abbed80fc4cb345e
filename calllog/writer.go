package calllog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// rowWriter is the state of the goroutine that writes queued entries: the
// chunks it took from the queue, each written as one batch.
type rowWriter struct {
	m     *Module
	pend  []*chunk // taken from the queue; pend[next:] are not written yet
	next  int
	names []string // method names for the entries of pend
	token string   // the flush mark of pend[next], once it was tried
	ids   methodIDs
	pack  packer
	logs  rateLog
	drops uint64 // dropped records already logged
}

// runWriter writes the full chunks at once and every FlushInterval the
// one being filled too, until Close; then it drains the queue. A chunk
// being filled waits for the tick (or to fill) even while full ones are
// written: writing whatever arrived during the last write would commit
// a few rows at a time under load, and a commit costs more than its rows.
func (m *Module) runWriter() {
	defer m.writerWG.Done()
	w := &rowWriter{m: m}
	back := backoff{}
	t := time.NewTimer(m.opts.FlushInterval)
	defer t.Stop()
	for {
		wake := m.q.wake
		if back.failing() {
			wake = nil // wait out the back-off
		}
		partial := false
		select {
		case <-m.stop:
			w.drain()
			return
		case <-t.C:
			partial = true
		case <-wake:
		}
		err := w.flush(m.bg, true, partial)
		next := m.opts.FlushInterval
		if err != nil {
			next = back.next()
			w.logs.error(m, "calllog: writing rows failed; they stay queued and are retried",
				"queued", m.q.stats().Queued, "retry_in", next, "err", err)
		} else {
			back.reset()
		}
		w.logDrops(false)
		t.Reset(next)
	}
}

// flush writes the full chunks queued, and with partial first the one
// being filled. With stoppable it returns early when Close begins, so that
// the drain takes over with Close's context.
func (w *rowWriter) flush(ctx context.Context, stoppable, partial bool) error {
	m := w.m
	for {
		if w.next == len(w.pend) {
			clear(w.pend)
			w.pend, w.names = m.q.take(w.pend[:0], partial)
			partial = false
			w.next = 0
			if len(w.pend) == 0 {
				m.progressed()
				return nil
			}
		}
		group := w.group()
		if err := w.write(ctx, group); err != nil {
			if !unwritable(err) {
				return err
			}
			// The server refused the data itself: retrying cannot help, and
			// holding the chunks would stop the log for good.
			m.log.Error("calllog: rows refused by the database; dropped", "rows", rowsOf(group), "err", err)
			w.token = ""
			for _, c := range group {
				m.q.lost(c)
			}
		} else {
			for _, c := range group {
				m.q.done(c) // c is reused from here on
			}
		}
		m.progressed()
		clear(group)
		w.next += len(group)
		if stoppable {
			select {
			case <-m.stop:
				return nil
			default:
			}
		}
	}
}

// maxGroupRows bounds the rows of one transaction. The chunks waiting are
// written together up to it: a backlog then costs a commit per group, not
// per chunk, and a commit (its WAL flush, on PostgreSQL its fsync) is what
// a write costs most. Packed, 100,000 rows are about 1.2 MB of batches: the
// writer keeps up with 100,000 calls a second as long as a commit takes
// less than a second.
const maxGroupRows = 100_000

// group returns the chunks from pend[next] that the next transaction
// writes: at least one, and more while they fit in maxGroupRows. It is the
// same group until written, so that a retry finds its flush mark.
func (w *rowWriter) group() []*chunk {
	end, rows := w.next, 0
	for end < len(w.pend) && (end == w.next || rows+len(w.pend[end].entries) <= maxGroupRows) {
		rows += len(w.pend[end].entries)
		end++
	}
	return w.pend[w.next:end]
}

func rowsOf(group []*chunk) int {
	n := 0
	for _, c := range group {
		n += len(c.entries)
	}
	return n
}

// write inserts a group of chunks in a transaction with its flush mark,
// once every method the queue names has its number. A group tried before
// is first looked up by its mark: the earlier attempt may have committed
// even though its answer was lost.
func (w *rowWriter) write(ctx context.Context, group []*chunk) error {
	retry := w.token != ""
	if !retry {
		w.token = rand.Text()
	}
	ctx, cancel := context.WithTimeout(ctx, w.m.opts.writeTimeout)
	defer cancel()
	err := w.ids.resolve(ctx, w.m.db, w.m.tables, w.names)
	if err == nil {
		err = w.store(ctx, group, retry)
	}
	if err != nil {
		return fmt.Errorf("calllog: write %d rows: %w", rowsOf(group), err)
	}
	w.token = ""
	return nil
}

// maxStatusText bounds the stored status text; a handler's message can be long.
const maxStatusText = 1024

// cleanText makes s storable as PostgreSQL text: valid UTF-8, no NUL, at
// most maxStatusText bytes.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) > maxStatusText {
		cut := maxStatusText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// unwritable reports an error in which PostgreSQL refused the data itself
// (class 22, data exception), as opposed to an unreachable server.
func unwritable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// drain writes what is queued with Close's context, retrying until it ends,
// then closes the queue. What it could not write is counted and logged.
func (w *rowWriter) drain() {
	m := w.m
	ctx := m.closeCtx
	back := backoff{}
	for {
		err := w.flush(ctx, false, true)
		if err == nil && m.q.closeIfEmpty() {
			w.logDrops(true)
			return
		}
		if err == nil {
			continue
		}
		w.logs.error(m, "calllog: close: writing rows failed; retrying", "err", err)
		if !back.wait(ctx) {
			lost := 0
			for _, c := range w.pend[w.next:] {
				lost += len(c.entries)
				m.q.lost(c)
			}
			w.pend, w.next = nil, 0
			lost += m.q.closeNow()
			m.log.Error("calllog: close: rows not written", "rows", lost, "err", err)
			m.writerErr = fmt.Errorf("calllog: close: %d rows not written: %w", lost, err)
			w.logDrops(true)
			return
		}
	}
}

// logDrops warns of records dropped since the last warning, at most every
// logEvery unless final.
func (w *rowWriter) logDrops(final bool) {
	total := w.m.q.droppedCount()
	if total == w.drops || (!final && !w.logs.dropsDue()) {
		return
	}
	w.m.log.Warn("calllog: queue full: call records dropped (their statistics are kept)",
		"dropped", total-w.drops, "dropped_total", total, "queue_size", w.m.opts.QueueSize)
	w.drops = total
}

// logEvery spaces out repeated warnings and errors of the background work.
const logEvery = 10 * time.Second

// rateLog logs an error at most every logEvery, counting what it held back.
type rateLog struct {
	last       time.Time
	suppressed int
	lastDrops  time.Time
}

func (r *rateLog) error(m *Module, msg string, args ...any) {
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < logEvery {
		r.suppressed++
		return
	}
	if r.suppressed > 0 {
		args = append(args, "suppressed", r.suppressed)
	}
	m.log.Error(msg, args...)
	r.last, r.suppressed = now, 0
}

func (r *rateLog) dropsDue() bool {
	now := time.Now()
	if !r.lastDrops.IsZero() && now.Sub(r.lastDrops) < logEvery {
		return false
	}
	r.lastDrops = now
	return true
}

// backoff spaces out retries: 100ms, doubling, at most 5s.
type backoff struct{ d time.Duration }

const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

func (b *backoff) failing() bool { return b.d > 0 }
func (b *backoff) reset()        { b.d = 0 }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, backoffMin), backoffMax)
	return b.d
}

// wait sleeps for the next back-off; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
