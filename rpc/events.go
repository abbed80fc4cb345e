package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc/internal/wsconn"
)

// Method ids of the socket's own messages.
const (
	methodEvent       = "/event"       // an event: the server's push to a 4.x client, or a client's
	methodPublish     = "/publish"     // the same for the 6.x client
	methodSubscribe   = "/subscribe"   // the 6.x client names the events it wants
	methodUnsubscribe = "/unsubscribe" // and those it no longer wants
)

// EventChannel carries events between the instances of a service: the part
// of a pubsub.Channel (a *storage.Channel, or a natspubsub.Channel over
// NATS) that events use.
type EventChannel interface {
	// Publish sends payload to the channel's subscribers in every instance.
	Publish(ctx context.Context, payload string) error
	// Subscribe calls fn with every payload published on the channel; fn may
	// also get this instance's own.
	Subscribe(fn func(payload string))
}

// eventShare is the channel events travel on between instances, and the
// counts of events.
type eventShare struct {
	origin string // this registry's id, to know its own payloads
	ch     atomic.Pointer[EventChannel]

	published, received, delivered atomic.Uint64
}

// EventStats counts a registry's events since it was made, for a metrics
// exporter to read (see Registry.EventStats).
type EventStats struct {
	// Published counts the events Publish sent from this instance.
	Published uint64
	// Received counts the events other instances published that reached
	// this one.
	Received uint64
	// Delivered counts the events queued on this instance's sockets: an
	// event that reaches ten sockets counts ten.
	Delivered uint64
}

// EventStats returns the counts of events so far.
func (r *Registry) EventStats() EventStats {
	e := &r.hub.events
	return EventStats{Published: e.published.Load(), Received: e.received.Load(), Delivered: e.delivered.Load()}
}

func newOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ShareEvents makes Publish reach the sockets of every instance that shares
// ch, and delivers here what the others publish on it. Call it once, at
// start-up, before serving; it panics when called again or with a nil ch.
//
// A *storage.Channel carries events of any size (those too big for a
// NOTIFY go through a table); a natspubsub.Channel carries them up to the
// NATS server's max_payload (1 MB by default). When the channel refuses or
// fails to send an event, it has reached this instance's sockets only, and
// Publish returns the channel's error.
func (r *Registry) ShareEvents(ch EventChannel) {
	if ch == nil {
		panic("rpc: ShareEvents: nil channel")
	}
	if !r.hub.events.ch.CompareAndSwap(nil, &ch) {
		panic("rpc: ShareEvents: already shared")
	}
	ch.Subscribe(r.hub.receive)
}

// sharedEvent is an event as it travels between instances.
type sharedEvent struct {
	Origin string          `json:"o"`
	Groups []string        `json:"g"`
	Params json.RawMessage `json:"p"` // [name, ...args]
}

// Publish sends the event name with args to the open WebSockets in any of
// groups (GroupAll, GroupUser, GroupGuest, GroupRoot, UserGroup(id), or a
// permission name), on this instance and, through the channel given to
// ShareEvents, on every other. Sockets get it as
//
//	{"jsonrpc":"2.0","method":"/event","params":[name, ...args]}
//
// or, if they subscribed to name (the 6.x client), with method "/publish";
// sockets that subscribed to other names only do not get it. Args are
// encoded as JSON. The sockets of this instance have the event queued
// before Publish returns.
func (r *Registry) Publish(ctx context.Context, name string, groups []string, args ...any) error {
	params, err := json.Marshal(append([]any{name}, args...))
	if err != nil {
		return fmt.Errorf("rpc: publish %s: encode args: %w", name, err)
	}
	r.hub.events.published.Add(1)
	r.hub.deliver(newEvent(name, params), groups)
	ch := r.hub.events.ch.Load()
	if ch == nil {
		return nil
	}
	payload, err := json.Marshal(sharedEvent{Origin: r.hub.events.origin, Groups: groups, Params: params})
	if err != nil {
		return fmt.Errorf("rpc: publish %s: %w", name, err)
	}
	if err := (*ch).Publish(ctx, string(payload)); err != nil {
		return fmt.Errorf("rpc: publish %s to other instances: %w", name, err)
	}
	return nil
}

// receive delivers an event published by another instance.
func (h *hub) receive(payload string) {
	var se sharedEvent
	if err := json.Unmarshal([]byte(payload), &se); err != nil {
		h.r.log.Warn("rpc: unreadable event from another instance", "err", err)
		return
	}
	if se.Origin == h.events.origin {
		return // delivered when it was published
	}
	var head []json.RawMessage
	var name string
	if json.Unmarshal(se.Params, &head) != nil || len(head) == 0 || json.Unmarshal(head[0], &name) != nil {
		h.r.log.Warn("rpc: event from another instance without a name")
		return
	}
	h.events.received.Add(1)
	h.deliver(newEvent(name, se.Params), se.Groups)
}

// event is one published event. Its messages are encoded and framed once,
// in the forms sockets ask for, however many sockets get it: each socket
// is written those bytes as they are.
type event struct {
	name   string
	params json.RawMessage

	once   [4]sync.Once // by push form: /event (4.x) or /publish (6.x), JSON or MessagePack
	frames [4][]byte
}

func newEvent(name string, params json.RawMessage) *event {
	return &event{name: name, params: params}
}

// frame returns the event as a WebSocket frame of the form a socket asks
// for.
func (e *event) frame(publish, binary bool) []byte {
	i := 0
	if publish {
		i = 1
	}
	if binary {
		i += 2
	}
	e.once[i].Do(func() {
		method := methodEvent
		if publish {
			method = methodPublish
		}
		msg := make([]byte, 0, len(e.params)+48)
		msg = append(msg, `{"jsonrpc":"2.0","method":"`...)
		msg = append(msg, method...)
		msg = append(msg, `","params":`...)
		msg = append(msg, e.params...)
		msg = append(msg, '}')
		op := wsconn.OpText
		if binary {
			msg, _ = jsonToMsgpack(msg) // the params were encoded as JSON: they convert
			op = wsconn.OpBinary
		}
		e.frames[i] = wsconn.Frame(op, msg)
	})
	return e.frames[i]
}

// deliver queues e on the sockets in any of groups.
func (h *hub) deliver(e *event, groups []string) {
	h.mu.RLock()
	var targets []*socket
	if len(groups) == 1 {
		for s := range h.groups[groups[0]] {
			targets = append(targets, s)
		}
	} else {
		seen := make(map[*socket]struct{})
		for _, g := range groups {
			for s := range h.groups[g] {
				if _, ok := seen[s]; !ok {
					seen[s] = struct{}{}
					targets = append(targets, s)
				}
			}
		}
	}
	h.mu.RUnlock()
	h.events.delivered.Add(pushAll(e, targets))
}

// pushShare is the fewest sockets one goroutine of deliver pushes to: under
// it, a second goroutine costs more than it saves.
const pushShare = 256

// pushBatch is how many sockets a goroutine of pushAll takes at a time.
const pushBatch = 32

// pushAll pushes e to targets, from as many goroutines as there are
// processors when they are many (the caller's among them): a push is
// mostly the write to the connection (a system call), and the machine's
// processors write at once. The goroutines take the sockets in batches as
// they go, not a share each fixed beforehand: a goroutine whose thread the
// system takes off its processor (the machine runs other processes) holds
// up only the batch it has while the others take the rest, so the last
// socket waits for no goroutine that fell behind. It returns, once every
// push is done, how many sockets got e.
func pushAll(e *event, targets []*socket) uint64 {
	pushEach := func(list []*socket) uint64 {
		var n uint64
		for _, s := range list {
			if s.push(e) {
				n++
			}
		}
		return n
	}
	workers := min(runtime.GOMAXPROCS(0), len(targets)/pushShare)
	if workers <= 1 {
		return pushEach(targets)
	}
	var wg sync.WaitGroup
	var n atomic.Uint64
	var next atomic.Int64 // the first socket of the next batch
	work := func() {
		var sent uint64
		for {
			i := int(next.Add(pushBatch)) - pushBatch
			if i >= len(targets) {
				break
			}
			sent += pushEach(targets[i:min(i+pushBatch, len(targets))])
		}
		n.Add(sent)
	}
	for range workers - 1 {
		wg.Go(work)
	}
	work() // this goroutine is one of them
	wg.Wait()
	return n.Load()
}

// push queues e for the socket, unless the client subscribed to other
// events only, and reports whether it did. A socket that falls
// MaxQueuedEvents behind is closed. When nothing is queued and the
// connection takes the frame at once, it is written here, with no
// goroutine; otherwise the socket's writer goroutine writes it, so that a
// slow socket holds up no other.
func (s *socket) push(e *event) bool {
	if !s.subs.wants(e.name) || s.closing() {
		return false
	}
	s.outMu.Lock()
	if !s.writing {
		s.writing = true // this goroutine is the writer, for one try
		s.outMu.Unlock()
		written, err := s.conn.TryWriteFramed(e.frame(s.subs.active.Load(), s.binary.Load()))
		if err != nil && !errors.Is(err, wsconn.ErrClosing) {
			s.kill()
		}
		s.outMu.Lock()
		if !written {
			s.out = append(s.out, e)
		}
		if len(s.out) == 0 {
			s.writing = false
			s.outMu.Unlock()
			return true
		}
		s.outMu.Unlock()
		go s.drain()
		return true
	}
	if len(s.out) >= s.r.opts.WebSocket.MaxQueuedEvents {
		s.outMu.Unlock()
		if s.close(CloseTooSlow, "Too slow: events were not read") {
			s.r.refused.eventQueue.Add(1)
		}
		return false
	}
	s.out = append(s.out, e)
	s.outMu.Unlock()
	return true
}

// drain writes the queued events, and ends when none are left: an idle
// socket keeps no writer goroutine.
func (s *socket) drain() {
	for {
		s.outMu.Lock()
		batch := s.out
		s.out = nil
		if len(batch) == 0 {
			s.writing = false
			s.outMu.Unlock()
			return
		}
		s.outMu.Unlock()
		for _, e := range batch {
			if s.closing() {
				break // the close goes next; what is queued is dropped
			}
			s.writeEvent(e.frame(s.subs.active.Load(), s.binary.Load()))
		}
	}
}

// subscribe adds or removes the events the client wants ([[names]] or
// [names]); from the first call on, the socket gets only those, as /publish.
// Names past the socket's bounds are not subscribed, and counted.
func (s *socket) subscribe(on bool, params json.RawMessage) *Error {
	o := &s.r.opts.WebSocket
	refused := s.subs.change(on, params, o.MaxSubscriptions, o.MaxEventNameBytes)
	if refused == 0 {
		return nil
	}
	s.r.refused.subscriptions.Add(uint64(refused))
	return BadRequest("%d event names not subscribed: a socket subscribes to at most %d names of at most %d bytes",
		refused, o.MaxSubscriptions, o.MaxEventNameBytes)
}

// clientEvent hands an event from the client ([name, ...args]) to the
// host's OnEvent, as the socket's caller.
func (s *socket) clientEvent(raws []json.RawMessage) {
	fn := s.r.opts.WebSocket.OnEvent
	if fn == nil || len(raws) == 0 {
		return
	}
	var name string
	if json.Unmarshal(raws[0], &name) != nil || name == "" {
		return
	}
	ctx, _, err := s.r.caller(s.ctx, s.token)
	if err != nil {
		ctx = auth.NewContext(s.ctx, nil) // the authenticator failed: a guest
	}
	fn(ctx, name, raws[1:])
}
