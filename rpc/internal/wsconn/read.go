package wsconn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// Opcode is a frame's kind.
type Opcode byte

// The opcodes of RFC 6455.
const (
	OpContinuation Opcode = 0
	OpText         Opcode = 1
	OpBinary       Opcode = 2
	OpClose        Opcode = 8
	OpPing         Opcode = 9
	OpPong         Opcode = 10
)

// Close codes of RFC 6455 that Conn sends itself.
const (
	CloseNormal        = 1000
	CloseProtocolError = 1002
	CloseNoStatus      = 1005 // received: the client's close had no code
	CloseInvalidData   = 1007
)

// CloseError is the error reading returns once the client closed the
// connection with a close frame; Conn has answered it.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket: closed by the client: %d %q", e.Code, e.Reason)
}

// ErrProtocol is what reading returns for a frame RFC 6455 does not allow;
// Conn has closed the connection with 1002.
var ErrProtocol = errors.New("websocket: protocol error")

// Conn is the server end of a WebSocket. One goroutine reads (NextMessage);
// any may write.
type Conn struct {
	nc      net.Conn
	rc      syscall.RawConn // nc's descriptor, for TryWriteFramed; nil when it has none
	pending []byte          // bytes the handshake read past its end
	br      *bufio.Reader   // while a message is read; nil when idle
	head    [2]byte         // where an idle connection waits
	onPong  func()

	// The message being read.
	msg       msgReader
	inMessage bool // a data message is being read (continuations expected)

	wmu        sync.Mutex // one frame at a time
	deadline   time.Time  // the write deadline set; wmu holds it
	closeSent  bool       // wmu holds it
	pingWanted atomic.Bool
	closeOnce  sync.Once
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// raw reads what the handshake left over, then the network.
type raw Conn

func (r *raw) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		if len(r.pending) == 0 {
			r.pending = nil
		}
		return n, nil
	}
	return r.nc.Read(p)
}

// NextMessage waits for the client's next text or binary message and
// returns its type and a reader of its payload, which reads until the
// message's end (io.EOF) and is good until NextMessage is called again.
// What is left unread of the previous message is skipped. Control frames
// are handled on the way: pings answered, pongs reported, a close answered
// (a *CloseError).
func (c *Conn) NextMessage() (Opcode, io.Reader, error) {
	for c.inMessage {
		if _, err := io.Copy(io.Discard, &c.msg); err != nil {
			return 0, nil, err
		}
	}
	for {
		h, err := c.nextFrame()
		if err != nil {
			return 0, nil, err
		}
		switch h.op {
		case OpText, OpBinary:
			c.inMessage = true
			c.msg = msgReader{c: c, frame: h}
			return h.op, &c.msg, nil
		default:
			return 0, nil, c.fail(fmt.Errorf("%w: a continuation outside a message", ErrProtocol))
		}
	}
}

// frameHeader is what a frame's header says.
type frameHeader struct {
	fin  bool
	op   Opcode
	n    int64 // payload bytes left
	mask [4]byte
	pos  int // of the mask, for the next byte
}

// nextFrame reads the next data frame's header, handling control frames.
func (c *Conn) nextFrame() (frameHeader, error) {
	for {
		h, err := c.readHeader()
		if err != nil {
			return h, err
		}
		if h.op < OpClose {
			return h, nil
		}
		if err := c.control(h); err != nil {
			return h, err
		}
	}
}

// readHeader reads a frame's header. An idle connection waits on c.head;
// the read buffer is taken once the first bytes came.
func (c *Conn) readHeader() (frameHeader, error) {
	var h frameHeader
	var b0, b1 byte
	if c.br == nil {
		if _, err := io.ReadFull((*raw)(c), c.head[:]); err != nil {
			return h, err
		}
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset((*raw)(c))
		b0, b1 = c.head[0], c.head[1]
	} else {
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return h, err
		}
		b0, b1 = b[0], b[1]
	}
	h.fin, h.op = b0&0x80 != 0, Opcode(b0&0x0f)
	if b0&0x70 != 0 {
		return h, c.fail(fmt.Errorf("%w: reserved bits set", ErrProtocol))
	}
	if b1&0x80 == 0 {
		return h, c.fail(fmt.Errorf("%w: a client's frame is masked", ErrProtocol))
	}
	switch h.op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, c.fail(fmt.Errorf("%w: opcode %d", ErrProtocol, h.op))
	}
	var ext [8]byte
	switch n := b1 & 0x7f; n {
	case 126:
		if _, err := io.ReadFull(c.br, ext[:2]); err != nil {
			return h, err
		}
		h.n = int64(binary.BigEndian.Uint16(ext[:2]))
	case 127:
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return h, err
		}
		u := binary.BigEndian.Uint64(ext[:])
		if u>>63 != 0 {
			return h, c.fail(fmt.Errorf("%w: a length of 2^63 or more", ErrProtocol))
		}
		h.n = int64(u)
	default:
		h.n = int64(n)
	}
	if h.op >= OpClose && (!h.fin || h.n > 125) {
		return h, c.fail(fmt.Errorf("%w: a fragmented or long control frame", ErrProtocol))
	}
	if _, err := io.ReadFull(c.br, h.mask[:]); err != nil {
		return h, err
	}
	return h, nil
}

// release gives the read buffer back when no byte is left in it: an idle
// connection holds none.
func (c *Conn) release() {
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.br = nil
	}
}

// control handles a control frame: a ping is answered, a pong reported, a
// close answered and the connection closed.
func (c *Conn) control(h frameHeader) error {
	var buf [125]byte
	p := buf[:h.n]
	if _, err := io.ReadFull(c.br, p); err != nil {
		return err
	}
	h.unmask(p)
	if !c.inMessage {
		c.release()
	}
	switch h.op {
	case OpPing:
		return c.writeControl(OpPong, p)
	case OpPong:
		if c.onPong != nil {
			c.onPong()
		}
		return nil
	}
	ce := &CloseError{Code: CloseNoStatus}
	switch {
	case len(p) == 1:
		return c.fail(fmt.Errorf("%w: a close payload of 1 byte", ErrProtocol))
	case len(p) >= 2:
		ce.Code, ce.Reason = int(binary.BigEndian.Uint16(p)), string(p[2:])
		if !utf8.ValidString(ce.Reason) {
			_ = c.Close(CloseInvalidData, "close reason is not UTF-8")
			c.CloseNow()
			return ce
		}
	}
	code := ce.Code
	if code == CloseNoStatus {
		code = CloseNormal
	}
	_ = c.Close(code, "") // unless the server's close went first: then this is the answer
	c.CloseNow()
	return ce
}

// fail closes the connection over a protocol error, with 1002.
func (c *Conn) fail(err error) error {
	_ = c.Close(CloseProtocolError, err.Error())
	c.CloseNow()
	return err
}

// msgReader reads one message's payload, across its frames.
type msgReader struct {
	c     *Conn
	frame frameHeader
}

func (m *msgReader) Read(p []byte) (int, error) {
	c := m.c
	for m.frame.n == 0 {
		if m.frame.fin {
			c.inMessage = false
			c.release()
			return 0, io.EOF
		}
		h, err := c.nextFrame()
		if err != nil {
			return 0, err
		}
		if h.op != OpContinuation {
			return 0, c.fail(fmt.Errorf("%w: a new message inside a fragmented one", ErrProtocol))
		}
		m.frame = h
	}
	if int64(len(p)) > m.frame.n {
		p = p[:m.frame.n]
	}
	n, err := c.br.Read(p)
	m.frame.unmask(p[:n])
	m.frame.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// unmask unmasks p, the payload bytes after those unmasked before.
func (h *frameHeader) unmask(p []byte) {
	if len(p) >= 16 {
		// A word at a time: the key turned to where this part starts.
		var k [8]byte
		for i := range k {
			k[i] = h.mask[(h.pos+i)&3]
		}
		key := binary.LittleEndian.Uint64(k[:])
		for len(p) >= 8 {
			binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^key)
			p = p[8:]
		}
	}
	for i := range p {
		p[i] ^= h.mask[h.pos&3]
		h.pos++
	}
}
