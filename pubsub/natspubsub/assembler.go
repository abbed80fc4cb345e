package natspubsub

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// assembler puts chunked payloads back together, for all the channels of
// a Sync, within bounds: at most maxPayloads incomplete at once, holding
// at most maxBytes, none older than maxAge. A payload that breaks a bound,
// or whose chunks come out of order (the server keeps one publisher's in
// order, so a missing index means a lost chunk), is dropped whole: what
// it held is freed, nothing of it is delivered, and its channel is told of
// the gap.
type assembler struct {
	now         func() time.Time
	maxPayloads int
	maxBytes    int
	maxAge      time.Duration

	mu      sync.Mutex
	bytes   int                 // reserved by the payloads in byID
	byID    map[string]*partial // by channel subject and payload id
	byStart []*partial          // oldest first
}

// partial is a payload whose chunks are still arriving.
type partial struct {
	key     string
	c       *Channel
	buf     strings.Builder // grown to size at the first chunk
	next    int             // the index expected next
	count   int
	size    int
	started time.Time
}

// drop is a payload the assembler gave up on, and why.
type drop struct {
	c      *Channel
	id     string
	reason string
	held   int // bytes it held
}

func newAssembler(now func() time.Time, maxPayloads, maxBytes int, maxAge time.Duration) *assembler {
	return &assembler{now: now, maxPayloads: maxPayloads, maxBytes: maxBytes, maxAge: maxAge, byID: make(map[string]*partial)}
}

// add takes chunk ch of c with its data. It returns the payload once its
// last chunk is in (done), and the payloads it dropped meanwhile, for the
// caller to report outside the lock; started says a payload began, so that
// the caller makes sure its age is watched.
func (a *assembler) add(c *Channel, ch chunk, data []byte) (payload string, done, started bool, drops []drop) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	drops = a.expire(now, drops)
	key := c.subject + " " + ch.id
	p := a.byID[key]
	if ch.index == 0 {
		if p != nil { // an id seen twice: neither copy is trusted
			drops = append(drops, a.remove(p, "its first chunk came again"))
		}
		if ch.size > a.maxBytes {
			return "", false, false, append(drops, drop{c: c, id: ch.id, reason: "bigger than MaxAssemblyBytes"})
		}
		for len(a.byStart) > 0 && (len(a.byStart) >= a.maxPayloads || a.bytes+ch.size > a.maxBytes) {
			drops = append(drops, a.remove(a.byStart[0], "the oldest incomplete payload, dropped for room"))
		}
		p = &partial{key: key, c: c, count: ch.count, size: ch.size, started: now}
		p.buf.Grow(ch.size)
		a.byID[key] = p
		a.byStart = append(a.byStart, p)
		a.bytes += ch.size
		started = true
	}
	if p == nil {
		// A chunk of a payload already dropped (and reported), or begun
		// before this instance listened: nothing to deliver.
		return "", false, started, drops
	}
	switch {
	case ch.index != p.next:
		return "", false, started, append(drops, a.remove(p, "a chunk is missing"))
	case ch.count != p.count || ch.size != p.size || p.buf.Len()+len(data) > p.size:
		return "", false, started, append(drops, a.remove(p, "its chunks disagree"))
	}
	p.buf.Write(data)
	p.next++
	if p.next < p.count {
		return "", false, started, drops
	}
	if p.buf.Len() != p.size {
		return "", false, started, append(drops, a.remove(p, "its chunks disagree"))
	}
	a.remove(p, "")
	return p.buf.String(), true, started, drops
}

// expire drops the payloads begun maxAge or more before now; a.mu is
// held.
func (a *assembler) expire(now time.Time, drops []drop) []drop {
	for len(a.byStart) > 0 && now.Sub(a.byStart[0].started) >= a.maxAge {
		drops = append(drops, a.remove(a.byStart[0], "its chunks stopped coming"))
	}
	return drops
}

// remove forgets p and frees what it held; a.mu is held.
func (a *assembler) remove(p *partial, reason string) drop {
	delete(a.byID, p.key)
	if i := slices.Index(a.byStart, p); i >= 0 {
		a.byStart = slices.Delete(a.byStart, i, i+1)
	}
	a.bytes -= p.size
	d := drop{c: p.c, id: p.key[len(p.c.subject)+1:], reason: reason, held: p.buf.Len()}
	if reason != "" {
		p.buf = strings.Builder{}
	}
	return d
}

// sweep drops the payloads past their age, and says how long until the
// oldest left is: ok is false when none is left.
func (a *assembler) sweep() (drops []drop, next time.Duration, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	drops = a.expire(now, nil)
	if len(a.byStart) == 0 {
		return drops, 0, false
	}
	return drops, a.byStart[0].started.Add(a.maxAge).Sub(now), true
}

// held says how many payloads are incomplete and the bytes they reserve.
func (a *assembler) held() (payloads, bytes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byStart), a.bytes
}
