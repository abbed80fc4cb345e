package sockets

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Client is the client end of a socket opened by hand: the handshake, then
// frames read off the connection, with nothing of a library's between.
type Client struct {
	net.Conn
	br *bufio.Reader
}

// Dial opens a socket to addr offering Subprotocol.
func Dial(addr string) (*Client, error) { return DialProtocols(addr, Subprotocol) }

// DialProtocols opens a socket to addr offering the subprotocols given,
// such as Subprotocol and a bearer token, which is how a browser signs a
// socket in.
func DialProtocols(addr string, protocols ...string) (*Client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + strings.Join(protocols, ", ") + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("upgrade answered %s", res.Status)
	}
	return &Client{Conn: c, br: br}, nil
}

// Next returns the next text or binary message, answering pings on the way.
func (c *Client) Next() ([]byte, error) {
	for {
		op, p, err := c.frame()
		if err != nil {
			return nil, err
		}
		switch op {
		case 1, 2:
			return p, nil
		case 8:
			return nil, io.EOF
		case 9:
			if err := c.pong(p); err != nil {
				return nil, err
			}
		}
	}
}

// frame reads one unmasked frame (the server's are final here).
func (c *Client) frame() (byte, []byte, error) {
	op, n, err := c.header()
	if err != nil {
		return 0, nil, err
	}
	p := make([]byte, n)
	_, err = io.ReadFull(c.br, p)
	return op, p, err
}

// header reads a frame's header: its opcode and payload length.
func (c *Client) header() (byte, int64, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, 0, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, 0, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, 0, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	return h[0] & 0x0f, int64(n), nil
}

// Frame returns the next frame's opcode and payload as they came, pings
// included: 1 text, 2 binary, 8 close (its payload starts with the code),
// 9 ping.
func (c *Client) Frame() (op byte, payload []byte, err error) { return c.frame() }

// FrameLen reads the next frame as Frame does, but of a text or binary
// frame returns only the length, its payload read and dropped (a client
// of many sockets then holds no copy of a big event per socket).
func (c *Client) FrameLen() (op byte, n int64, control []byte, err error) {
	op, n, err = c.header()
	if err != nil {
		return 0, 0, nil, err
	}
	if op >= 8 {
		control = make([]byte, n)
		_, err = io.ReadFull(c.br, control)
		return op, n, control, err
	}
	_, err = io.CopyN(io.Discard, c.br, n)
	return op, n, nil, err
}

// Pong answers a ping with its payload.
func (c *Client) Pong(p []byte) error { return c.pong(p) }

// WriteText sends a text message, masked as a client's frame must be (a
// zero key).
func (c *Client) WriteText(p []byte) error {
	h := []byte{0x81, 0x80 | 126, byte(len(p) >> 8), byte(len(p)), 0, 0, 0, 0}
	if len(p) < 126 {
		h = []byte{0x81, 0x80 | byte(len(p)), 0, 0, 0, 0}
	}
	_, err := c.Write(append(h, p...))
	return err
}

// pong answers a ping, masked as a client's frame must be (a zero key).
func (c *Client) pong(p []byte) error {
	b := append([]byte{0x8a, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	_, err := c.Write(b)
	return err
}
