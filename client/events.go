package client

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Names of the events a client raises itself, about its socket; the server
// never sends them.
const (
	// EventConnect: the socket connected. No arguments.
	EventConnect = "connect"
	// EventDisconnect: the socket closed. Arguments: the close code (a
	// number; 1006 when the connection broke without one) and the reason.
	EventDisconnect = "disconnect"
	// EventSignout: the server closed the socket with 4000 "Signed out":
	// the token was revoked, and the socket reconnects as a guest would.
	EventSignout = "signout"
)

// Event is a message the server pushed over a WebSocket, or one of the
// client's own (EventConnect, EventDisconnect, EventSignout).
type Event struct {
	Name string
	// Args are the event's arguments, each as JSON text, also when the
	// event came in MessagePack.
	Args []json.RawMessage
}

// Decode unmarshals the arguments, in order, into the pointers in v, as
// encoding/json does; arguments past the last pointer are left alone, and a
// pointer past the last argument is an error.
func (e Event) Decode(v ...any) error {
	if len(v) > len(e.Args) {
		return fmt.Errorf("client: event %q: %d arguments, not %d", e.Name, len(e.Args), len(v))
	}
	for i, p := range v {
		if err := json.Unmarshal(e.Args[i], p); err != nil {
			return fmt.Errorf("client: event %q: argument %d: %w", e.Name, i+1, err)
		}
	}
	return nil
}

func isLocal(name string) bool {
	return name == EventConnect || name == EventDisconnect || name == EventSignout
}

// events holds the handlers and runs them, one at a time and in order, on
// a goroutine of its own, so that a slow handler holds up only events.
type events struct {
	c     *Client
	queue chan Event
	done  chan struct{}
	start sync.Once // run
	once  sync.Once // close

	mu       sync.Mutex
	handlers map[string][]*func(Event)
}

// eventQueue is how many events wait for the handlers before the socket
// stops reading.
const eventQueue = 256

func newEvents(c *Client) *events {
	return &events{c: c, queue: make(chan Event, eventQueue), done: make(chan struct{}), handlers: map[string][]*func(Event){}}
}

func (ev *events) run() {
	for {
		select {
		case e := <-ev.queue:
			ev.mu.Lock()
			hs := slices.Clone(ev.handlers[e.Name])
			ev.mu.Unlock()
			for _, h := range hs {
				(*h)(e)
			}
		case <-ev.done:
			return
		}
	}
}

// deliver queues e for its handlers; it waits while the queue is full.
func (ev *events) deliver(e Event) {
	ev.mu.Lock()
	_, wanted := ev.handlers[e.Name]
	ev.mu.Unlock()
	if !wanted {
		return
	}
	ev.start.Do(func() { go ev.run() }) // an HTTP client, which gets no events, runs no goroutine
	select {
	case ev.queue <- e:
	case <-ev.done:
	}
}

// names returns the server events that have handlers.
func (ev *events) names() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var names []string
	for name := range ev.handlers {
		if !isLocal(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (ev *events) close() { ev.once.Do(func() { close(ev.done) }) }

// subscriber is a transport that tells the server which events it wants.
type subscriber interface {
	subscribe(name string, on bool)
}

// On runs fn for every event called name, until off is called. Handlers
// run one at a time, in the order the events arrived, on a goroutine of the
// client's; a handler that blocks holds up later events, and once 256 wait
// the socket stops reading. Events arrive only over a WebSocket: the
// client subscribes to name (a /subscribe call) now and after every
// reconnect.
func (c *Client) On(name string, fn func(Event)) (off func()) {
	ev := c.events
	h := &fn
	ev.mu.Lock()
	first := len(ev.handlers[name]) == 0
	ev.handlers[name] = append(ev.handlers[name], h)
	ev.mu.Unlock()
	if s, ok := c.tr.(subscriber); ok && first && !isLocal(name) {
		s.subscribe(name, true)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ev.mu.Lock()
			hs := slices.DeleteFunc(ev.handlers[name], func(x *func(Event)) bool { return x == h })
			last := len(hs) == 0
			if last {
				delete(ev.handlers, name)
			} else {
				ev.handlers[name] = hs
			}
			ev.mu.Unlock()
			if s, ok := c.tr.(subscriber); ok && last && !isLocal(name) {
				s.subscribe(name, false)
			}
		})
	}
}

// Notify sends every event called name to ch, until off is called, as
// On does. Like signal.Notify it never blocks on ch: an event that finds
// ch full is dropped (and logged), so give ch room for a burst.
func (c *Client) Notify(name string, ch chan<- Event) (off func()) {
	return c.On(name, func(e Event) {
		select {
		case ch <- e:
		default:
			c.log.Warn("client: event dropped: its channel is full", "event", e.Name)
		}
	})
}
