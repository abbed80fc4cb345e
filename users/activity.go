package users

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// A session's last activity is kept without costing a call a write: the
// registry tells every signed-in call (rpc.Registry.OnActivity), and this
// remembers, per session, when it last asked for a write. A call within
// activityEvery of that costs a read-locked map lookup; the first after it
// queues the session's id for a writer goroutine, which stores the batch
// it finds in one UPDATE that skips the sessions another instance wrote
// within activityEvery. So each session's last_activity is written at most
// once a minute, by all instances together, and is at most a minute (and a
// batch) behind.
const (
	activityEvery = time.Minute
	// activityQueue bounds the ids waiting for the writer; past it a
	// session is forgotten, to be queued again by its next call.
	activityQueue = 4096
	// activityBatch bounds the ids of one UPDATE.
	activityBatch = 500
	// activityShards spread the map's lock traffic.
	activityShards = 16
	// activityFlush bounds the last write at Close.
	activityFlush = 5 * time.Second
)

// activity is the sessions' last activity as this instance saw it.
type activity struct {
	now    func() time.Time
	shards [activityShards]activityShard
	queue  chan int64
	write  func(ctx context.Context, ids []int64, at time.Time) error
	log    func(err error, n int)
	done   chan struct{}
	wrote  chan struct{} // tests: closed and replaced after each write
	wmu    sync.Mutex    // guards wrote
	queued atomic.Int64  // ids queued so far, for tests
}

type activityShard struct {
	mu   sync.RWMutex
	last map[int64]int64 // session id -> when a write was last asked for (Unix ns)
	_    [40]byte        // keep neighbouring shards' locks off one cache line
}

func newActivity(now func() time.Time) *activity {
	a := &activity{now: now, queue: make(chan int64, activityQueue), done: make(chan struct{}), wrote: make(chan struct{})}
	for i := range a.shards {
		a.shards[i].last = make(map[int64]int64)
	}
	return a
}

func (a *activity) shard(id int64) *activityShard { return &a.shards[uint64(id)%activityShards] }

// touch notes a call of the session p stands for; a signed-in caller of
// another kind is none of its business.
// at is when the call arrived, on the registry's Clock: reading a clock
// again would cost the call as much as the rest of this (time.Now takes
// hundreds of ns on some virtual machines).
func (a *activity) touch(p *auth.Principal, at time.Time) {
	if p.Kind != auth.KindSession || p.TokenID == 0 {
		return
	}
	now := at.UnixNano()
	s := a.shard(p.TokenID)
	s.mu.RLock()
	last, ok := s.last[p.TokenID]
	s.mu.RUnlock()
	if ok && now-last < int64(activityEvery) {
		return
	}
	s.mu.Lock()
	if last, ok := s.last[p.TokenID]; ok && now-last < int64(activityEvery) {
		s.mu.Unlock()
		return // another call queued it meanwhile
	}
	s.last[p.TokenID] = now
	s.mu.Unlock()
	select {
	case a.queue <- p.TokenID:
		a.queued.Add(1)
	default:
		a.forget(p.TokenID) // its next call queues it again
	}
}

// seen notes that a session's activity was stored at t (a new session's).
func (a *activity) seen(id int64, t time.Time) {
	s := a.shard(id)
	s.mu.Lock()
	s.last[id] = t.UnixNano()
	s.mu.Unlock()
}

// forget drops what is known of a session (ended, or its write lost).
func (a *activity) forget(id int64) {
	s := a.shard(id)
	s.mu.Lock()
	delete(s.last, id)
	s.mu.Unlock()
}

// prune forgets the sessions that have not called for a while, so that the
// map holds the sessions active lately, not every one since the start.
func (a *activity) prune() {
	cutoff := a.now().Add(-2 * activityEvery).UnixNano()
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		for id, last := range s.last {
			if last < cutoff {
				delete(s.last, id)
			}
		}
		s.mu.Unlock()
	}
}

// run writes the queued sessions' activity until ctx ends, then writes
// what is queued still, within flush.
func (a *activity) run(ctx context.Context, flush time.Duration) {
	defer close(a.done)
	ids := make([]int64, 0, activityBatch)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flush)
			for {
				ids = a.drain(ids[:0])
				if len(ids) == 0 || fctx.Err() != nil {
					break
				}
				a.store(fctx, ids)
			}
			cancel()
			return
		case id := <-a.queue:
			ids = a.drain(append(ids[:0], id))
			a.store(ctx, ids)
		}
	}
}

// drain appends the queued ids, up to a batch, without waiting.
func (a *activity) drain(ids []int64) []int64 {
	for len(ids) < activityBatch {
		select {
		case id := <-a.queue:
			ids = append(ids, id)
		default:
			return ids
		}
	}
	return ids
}

// store writes a batch. A write begun before Close carries on, within
// activityFlush.
func (a *activity) store(ctx context.Context, ids []int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), activityFlush)
	defer cancel()
	if err := a.write(ctx, ids, a.now()); err != nil && a.log != nil {
		a.log(err, len(ids))
	}
	a.wmu.Lock()
	close(a.wrote)
	a.wrote = make(chan struct{})
	a.wmu.Unlock()
}

// written returns a channel closed after the next write.
func (a *activity) written() <-chan struct{} {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.wrote
}

// writeActivity stores at as the last activity of the sessions ids, but of
// those whose stored one is within activityEvery of it already (another
// instance wrote it): those rows are not written at all.
func (m *Module) writeActivity(ctx context.Context, ids []int64, at time.Time) error {
	at = at.UTC().Truncate(time.Microsecond)
	_, err := m.db.NewUpdate().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).
		Set("last_activity = ?", at).
		Where("id IN (?)", bun.List(ids)).
		Where("last_activity <= ?", at.Add(-activityEvery)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: write sessions' last activity: %w", err)
	}
	return nil
}
