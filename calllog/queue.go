package calllog

import (
	"sync"
	"time"

	"github.com/authrpc/authrpc/rpc"
)

// entry is a queued call record without pointers, so that a full queue costs
// the garbage collector nothing to scan: the method is an index into the
// queue's method names, and a status text other than the code's default is
// kept beside the entries of its chunk.
type entry struct {
	start   int64 // Unix nanoseconds
	runtime int64 // nanoseconds
	user    int64 // 0 for a guest
	code    int32
	method  uint32
	text    uint32 // 1-based index into chunk.texts; 0: rpc.StatusText(code)
	flags   uint8
	addr    clientAddr
}

// micros is the entry's start in Unix microseconds, rounded down.
func (e *entry) micros() int64 {
	us := e.start / 1000
	if e.start%1000 < 0 {
		us--
	}
	return us
}

// The flags of an entry, and of a stored row.
const (
	flagDeclined = 1 << iota
	flagError
	flagException
)

// chunk is a batch of queued entries; the writer inserts one chunk per
// statement and hands it back for reuse.
type chunk struct {
	entries []entry // capacity BatchSize
	texts   []string
}

// methodState is what the queue knows of a method: its index, and its
// statistics of the minute being counted.
type methodState struct {
	index  uint32
	minute int64
	cur    *counts // q.agg's counts of (index, minute), or nil
}

// queue holds the entries waiting for the writer and the statistics gathered
// since the last merge, under one lock: a call takes it once, for a map
// lookup and an append into a chunk, and never waits on anything else.
type queue struct {
	mu      sync.Mutex
	cur     *chunk   // being filled
	full    []*chunk // filled, waiting for the writer
	free    []*chunk // written, for reuse
	count   int      // entries queued, including those the writer holds
	max     int      // bound of count
	batch   int
	closed  bool
	written uint64
	dropped uint64
	// waiting is when (now, Unix nanoseconds) count last rose from zero:
	// how long the oldest queued row may have waited.
	waiting int64
	now     func() time.Time

	methods map[string]*methodState
	names   []string // method names by index; only appended to
	agg     map[aggKey]*counts

	wake chan struct{} // tells the writer a chunk is full
}

func newQueue(max, batch int, now func() time.Time) *queue {
	return &queue{
		max:     max,
		batch:   batch,
		now:     now,
		methods: make(map[string]*methodState),
		agg:     make(map[aggKey]*counts),
		wake:    make(chan struct{}, 1),
	}
}

// push counts rec in the statistics and queues it for the writer, unless
// the queue is full. It reports whether a chunk became full.
func (q *queue) push(rec *rpc.CallRecord) bool {
	minute := minuteOf(rec.Start)
	defaultText := rec.StatusText == rpc.StatusText(rec.Code)
	var flags uint8
	if rec.Declined {
		flags |= flagDeclined
	}
	if rec.Error {
		flags |= flagError
	}
	if rec.Exception {
		flags |= flagException
	}
	addr := parseClientAddr(rec.ClientAddr)

	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.dropped++
		return false
	}
	ms := q.methods[rec.Method]
	if ms == nil {
		ms = &methodState{index: uint32(len(q.names))}
		q.methods[rec.Method] = ms
		q.names = append(q.names, rec.Method)
	}
	// Statistics count every call, also those whose row is dropped.
	if ms.cur == nil || ms.minute != minute {
		key := aggKey{method: ms.index, minute: minute}
		c := q.agg[key]
		if c == nil {
			c = new(counts)
			q.agg[key] = c
		}
		ms.cur, ms.minute = c, minute
	}
	ms.cur.add(rec.Runtime, flags)

	if q.count >= q.max {
		q.dropped++
		return false
	}
	c := q.cur
	if c == nil {
		c = q.newChunk()
		q.cur = c
	}
	e := entry{
		start:   rec.Start.UnixNano(),
		runtime: int64(rec.Runtime),
		user:    rec.UserID,
		code:    int32(rec.Code),
		method:  ms.index,
		flags:   flags,
		addr:    addr,
	}
	if !defaultText {
		c.texts = append(c.texts, rec.StatusText)
		e.text = uint32(len(c.texts))
	}
	c.entries = append(c.entries, e)
	if q.count == 0 {
		q.waiting = q.now().UnixNano()
	}
	q.count++
	if len(c.entries) == q.batch {
		q.full = append(q.full, c)
		q.cur = nil
		return true
	}
	return false
}

func (q *queue) newChunk() *chunk {
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		return c
	}
	return &chunk{entries: make([]entry, 0, q.batch)}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take hands the writer every full chunk, with partial the one being
// filled too, and the method names their entries refer to. The entries
// stay counted against the bound until done or lost reports them.
func (q *queue) take(into []*chunk, partial bool) ([]*chunk, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	into = append(into, q.full...)
	clear(q.full)
	q.full = q.full[:0]
	if partial && q.cur != nil && len(q.cur.entries) > 0 {
		into = append(into, q.cur)
		q.cur = nil
	}
	return into, q.names
}

// done reports a taken chunk written, and recycles it.
func (q *queue) done(c *chunk) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.count -= len(c.entries)
	q.written += uint64(len(c.entries))
	q.recycle(c)
}

// lost reports a taken chunk given up on, and recycles it.
func (q *queue) lost(c *chunk) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.count -= len(c.entries)
	q.dropped += uint64(len(c.entries))
	q.recycle(c)
}

// maxFreeChunks bounds the chunks kept for reuse; the rest are let go, so a
// burst's memory returns after it.
const maxFreeChunks = 8

func (q *queue) recycle(c *chunk) {
	c.entries = c.entries[:0]
	clear(c.texts)
	c.texts = c.texts[:0]
	if len(q.free) < maxFreeChunks {
		q.free = append(q.free, c)
	}
}

// closeIfEmpty closes the queue when nothing waits; later records are dropped.
func (q *queue) closeIfEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.full) > 0 || q.cur != nil && len(q.cur.entries) > 0 {
		return false
	}
	q.closed = true
	return true
}

// closeNow closes the queue and drops what waits; it returns how many.
func (q *queue) closeNow() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.full {
		n += len(c.entries)
	}
	if q.cur != nil {
		n += len(q.cur.entries)
	}
	q.full, q.cur = nil, nil
	q.count -= n
	q.dropped += uint64(n)
	q.closed = true
	return n
}

// swapAgg takes the statistics gathered so far, leaving fresh (empty) in
// place, and the method names their keys refer to.
func (q *queue) swapAgg(fresh map[aggKey]*counts) (map[aggKey]*counts, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.agg
	q.agg = fresh
	for _, ms := range q.methods {
		ms.cur = nil // it points into out
	}
	return out, q.names
}

func (q *queue) droppedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// waitingSince reports how many entries are queued and since when some
// have been (Unix nanoseconds).
func (q *queue) waitingSince() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count, q.waiting
}

func (q *queue) stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Queued: q.count, Written: q.written, Dropped: q.dropped}
}
