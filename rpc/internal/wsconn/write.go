package wsconn

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// ErrClosing is what a write returns once the server's close frame is sent.
var ErrClosing = errors.New("websocket: closing")

// maxHeader is the longest header of a server's frame (unmasked).
const maxHeader = 10

// AppendFrame appends payload framed as one final, unmasked frame of op:
// the bytes WriteFramed writes.
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	dst = appendHeader(dst, op, len(payload))
	return append(dst, payload...)
}

// Frame returns payload framed as one final frame of op, for WriteFramed:
// a message to many connections is framed once.
func Frame(op Opcode, payload []byte) []byte {
	return AppendFrame(make([]byte, 0, maxHeader+len(payload)), op, payload)
}

func appendHeader(dst []byte, op Opcode, n int) []byte {
	dst = append(dst, 0x80|byte(op))
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// WriteFramed writes a frame Frame made, as it is, in one write. A zero
// deadline writes without one.
func (c *Conn) WriteFramed(frame []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.unlock()
	if c.closeSent {
		return ErrClosing
	}
	if err := c.setDeadline(deadline); err != nil {
		return err
	}
	_, err := c.nc.Write(frame)
	return err
}

// TryWriteFramed writes a frame Frame made without waiting for anything:
// it reports false, having written nothing, when another write is under
// way or the connection does not take the whole frame at once (its send
// buffer is full) — then the caller writes it with WriteFramed from a
// goroutine of its own. What of the frame the connection took at once is
// not written again.
func (c *Conn) TryWriteFramed(frame []byte) (bool, error) {
	if c.rc == nil || !c.wmu.TryLock() {
		return false, nil
	}
	if c.closeSent {
		c.unlock()
		return true, ErrClosing
	}
	if err := c.setDeadline(time.Time{}); err != nil {
		c.unlock()
		return true, err
	}
	n, err := tryWrite(c.rc, frame)
	if err != nil || n == len(frame) {
		c.unlock()
		return true, err
	}
	if n == 0 {
		c.unlock()
		return false, nil
	}
	// Part of the frame is out: the rest goes next, before any other
	// frame, from a goroutine that holds the writer until it is written.
	go func() {
		defer c.unlock()
		_, _ = c.nc.Write(frame[n:]) // an error shows in the next write or read
	}()
	return true, nil
}

// smallFrame is the size under which a frame is copied into one buffer to
// be written; a bigger payload is written from where it is, beside its
// header (one writev).
const smallFrame = 8 << 10

var frames = sync.Pool{New: func() any { b := make([]byte, 0, smallFrame+maxHeader); return &b }}

// WriteMessage writes payload as one message of op (OpText or OpBinary),
// in one write. A zero deadline writes without one.
func (c *Conn) WriteMessage(op Opcode, payload []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.unlock()
	if c.closeSent {
		return ErrClosing
	}
	if err := c.setDeadline(deadline); err != nil {
		return err
	}
	if len(payload) <= smallFrame {
		bp := frames.Get().(*[]byte)
		b := AppendFrame((*bp)[:0], op, payload)
		_, err := c.nc.Write(b)
		*bp = b[:0]
		frames.Put(bp)
		return err
	}
	var head [maxHeader]byte
	bufs := net.Buffers{appendHeader(head[:0], op, len(payload)), payload}
	_, err := bufs.WriteTo(c.nc)
	return err
}

// setDeadline sets the write deadline when it changes; c.wmu is held.
func (c *Conn) setDeadline(d time.Time) error {
	if d.Equal(c.deadline) {
		return nil
	}
	c.deadline = d
	return c.nc.SetWriteDeadline(d)
}

// unlock ends a write, sending a ping that waited for it.
func (c *Conn) unlock() {
	if c.pingWanted.Load() && !c.closeSent {
		c.pingWanted.Store(false)
		_ = c.setDeadline(time.Time{})
		_, _ = c.nc.Write([]byte{0x80 | byte(OpPing), 0})
	}
	c.wmu.Unlock()
}

// Ping sends a ping, or, while a write is under way, has it sent right
// after: it never waits for a writer. The pong comes to Options.OnPong.
func (c *Conn) Ping() {
	c.pingWanted.Store(true)
	if c.wmu.TryLock() {
		c.unlock()
	}
}

// writeControl writes a control frame (a pong, a close).
func (c *Conn) writeControl(op Opcode, payload []byte) error {
	c.wmu.Lock()
	defer c.unlock()
	if c.closeSent {
		return ErrClosing
	}
	if op == OpClose {
		c.closeSent = true
	}
	var b [maxHeader + 125]byte
	if err := c.setDeadline(time.Time{}); err != nil {
		return err
	}
	_, err := c.nc.Write(AppendFrame(b[:0], op, payload))
	return err
}

// Close sends a close frame with code and reason (cut to fit a control
// frame), once; later writes return ErrClosing. The connection stays open
// for the client's answer, which reading handles; CloseNow ends it.
func (c *Conn) Close(code int, reason string) error {
	var b [125]byte
	p := binary.BigEndian.AppendUint16(b[:0], uint16(code))
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return c.writeControl(OpClose, append(p, reason...))
}

// CloseNow closes the network connection: a read or write under way ends.
func (c *Conn) CloseNow() {
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// RemoteAddr returns the client's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
