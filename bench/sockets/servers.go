package sockets

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"

	"github.com/authrpc/authrpc/rpc"
)

// Subprotocol is what every server here accepts, the wire format's.
const Subprotocol = rpc.Subprotocol

// Server is a WebSocket server under measurement.
type Server interface {
	http.Handler
	// Sockets returns the number of sockets open.
	Sockets() int
	// Broadcast sends every socket the event tick with arg, as
	// {"jsonrpc":"2.0","method":"/event","params":["tick",arg]}.
	Broadcast(arg int64)
	// Close closes the sockets.
	Close()
}

// Options configure a Server.
type Options struct {
	// MaxSockets is how many sockets a server must take. Default: 20,000.
	MaxSockets int
	// PingInterval is how often each socket is pinged. Default: 30 s.
	PingInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxSockets <= 0 {
		o.MaxSockets = 20_000
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	return o
}

// pingTimeout is how long each server waits for a pong.
const pingTimeout = 15 * time.Second

// event returns the message Broadcast sends.
func event(arg int64) []byte {
	b := strconv.AppendInt([]byte(`{"jsonrpc":"2.0","method":"/event","params":["tick",`), arg, 10)
	return append(b, "]}"...)
}

// Impls are the servers by name.
var Impls = map[string]func(Options) Server{
	"authrpc": NewAuthRPC,
	"coder":   NewCoder,
	"gorilla": NewGorilla,
}

// NewAuthRPC returns an authrpc registry serving sockets at its root.
func NewAuthRPC(o Options) Server {
	o = o.withDefaults()
	reg := rpc.New(rpc.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WebSocket: rpc.WebSocketOptions{
			MaxSockets: o.MaxSockets, MaxSocketsPerAddr: o.MaxSockets,
			PingInterval: o.PingInterval, PingTimeout: pingTimeout,
		},
	})
	return authRPC{reg}
}

type authRPC struct{ *rpc.Registry }

func (a authRPC) Broadcast(arg int64) {
	_ = a.Publish(context.Background(), "tick", []string{rpc.GroupAll}, arg)
}

func (a authRPC) Close() { _ = a.Shutdown(context.Background()) }

// conns is the set of open connections of a plain server.
type conns[C comparable] struct {
	mu  sync.Mutex
	all map[C]struct{}
}

func (cs *conns[C]) add(c C) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.all == nil {
		cs.all = make(map[C]struct{})
	}
	cs.all[c] = struct{}{}
}

func (cs *conns[C]) remove(c C) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.all, c)
}

func (cs *conns[C]) Sockets() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.all)
}

func (cs *conns[C]) list() []C {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	list := make([]C, 0, len(cs.all))
	for c := range cs.all {
		list = append(list, c)
	}
	return list
}

// NewCoder returns a plain coder/websocket server.
func NewCoder(o Options) Server { return &coderServer{o: o.withDefaults()} }

type coderServer struct {
	o Options
	conns[*coder.Conn]
}

func (s *coderServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := coder.Accept(w, r, &coder.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		return
	}
	s.add(c)
	defer s.remove(c)
	defer c.CloseNow()
	var ping *time.Timer
	ping = time.AfterFunc(s.o.PingInterval, func() {
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		if c.Ping(ctx) == nil { // waits for the pong, here
			ping.Reset(s.o.PingInterval)
		}
	})
	defer ping.Stop()
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return
		}
	}
}

func (s *coderServer) Broadcast(arg int64) {
	msg := event(arg) // encoded once
	for _, c := range s.list() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.Write(ctx, coder.MessageText, msg)
		}()
	}
}

func (s *coderServer) Close() {
	for _, c := range s.list() {
		c.CloseNow()
	}
}

// NewGorilla returns a plain gorilla/websocket server.
func NewGorilla(o Options) Server {
	return &gorillaServer{o: o.withDefaults(), up: gorilla.Upgrader{
		Subprotocols: []string{Subprotocol},
		CheckOrigin:  func(*http.Request) bool { return true },
	}}
}

type gorillaServer struct {
	o  Options
	up gorilla.Upgrader
	conns[*gorillaConn]
}

// gorillaConn is a gorilla connection and the lock its writers take
// (gorilla allows one writer at a time).
type gorillaConn struct {
	*gorilla.Conn
	mu sync.Mutex
}

func (s *gorillaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	gc := &gorillaConn{Conn: c}
	s.add(gc)
	defer s.remove(gc)
	defer c.Close()
	var ping *time.Timer
	ping = time.AfterFunc(s.o.PingInterval, func() {
		// Written from the timer; the reader sees the pong.
		if c.WriteControl(gorilla.PingMessage, nil, time.Now().Add(pingTimeout)) == nil {
			ping.Reset(s.o.PingInterval)
		}
	})
	defer ping.Stop()
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

func (s *gorillaServer) Broadcast(arg int64) {
	pm, err := gorilla.NewPreparedMessage(gorilla.TextMessage, event(arg)) // framed once
	if err != nil {
		return
	}
	for _, c := range s.list() {
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_ = c.WritePreparedMessage(pm)
		}()
	}
}

func (s *gorillaServer) Close() {
	for _, c := range s.list() {
		c.Close()
	}
}
