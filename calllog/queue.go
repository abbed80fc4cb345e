package calllog

import (
	"sync"

	"github.com/authrpc/authrpc/rpc"
)

// queue holds the call records waiting for the writer and the statistics
// gathered since the last merge, under one lock: a call takes it once, for
// an append and a map update, and never waits on anything else.
type queue struct {
	mu      sync.Mutex
	in      []rpc.CallRecord // waiting to be taken by the writer
	held    int              // taken by the writer, not yet written
	max     int              // bound of len(in) + held
	batch   int
	closed  bool
	written uint64
	dropped uint64
	agg     map[aggKey]*counts // minute statistics not yet merged

	wake chan struct{} // tells the writer a full batch waits
}

func newQueue(max, batch int) *queue {
	return &queue{
		max:   max,
		batch: batch,
		agg:   make(map[aggKey]*counts),
		wake:  make(chan struct{}, 1),
	}
}

// push counts rec in the statistics and queues it for the writer, unless
// the queue is full. It reports whether a full batch now waits.
func (q *queue) push(rec rpc.CallRecord) bool {
	q.mu.Lock()
	if q.closed {
		q.dropped++
		q.mu.Unlock()
		return false
	}
	// Statistics count every call, also those whose row is dropped.
	key := aggKey{method: rec.Method, minute: minuteOf(rec.Start)}
	c := q.agg[key]
	if c == nil {
		c = new(counts)
		q.agg[key] = c
	}
	c.add(&rec)
	full := false
	if len(q.in)+q.held >= q.max {
		q.dropped++
	} else {
		q.in = append(q.in, rec)
		full = len(q.in) == q.batch
	}
	q.mu.Unlock()
	return full
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take hands the writer every waiting record, giving the queue spare (empty,
// with capacity) to fill next. The records stay counted against the bound
// until done reports them written.
func (q *queue) take(spare []rpc.CallRecord) []rpc.CallRecord {
	q.mu.Lock()
	out := q.in
	q.in = spare[:0]
	q.held += len(out)
	q.mu.Unlock()
	return out
}

// done reports n taken records written.
func (q *queue) done(n int) {
	q.mu.Lock()
	q.held -= n
	q.written += uint64(n)
	q.mu.Unlock()
}

// lost reports n taken records given up on (Close ran out of time).
func (q *queue) lost(n int) {
	q.mu.Lock()
	q.held -= n
	q.dropped += uint64(n)
	q.mu.Unlock()
}

// closeIfEmpty closes the queue when nothing waits; later records are dropped.
func (q *queue) closeIfEmpty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.in) > 0 {
		return false
	}
	q.closed = true
	return true
}

// closeNow closes the queue and drops what waits; it returns how many.
func (q *queue) closeNow() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.in)
	q.in = nil
	q.dropped += uint64(n)
	q.closed = true
	return n
}

// swapAgg takes the statistics gathered so far, leaving fresh (empty) in place.
func (q *queue) swapAgg(fresh map[aggKey]*counts) map[aggKey]*counts {
	q.mu.Lock()
	out := q.agg
	q.agg = fresh
	q.mu.Unlock()
	return out
}

func (q *queue) droppedCount() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

func (q *queue) stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Queued: len(q.in) + q.held, Written: q.written, Dropped: q.dropped}
}
