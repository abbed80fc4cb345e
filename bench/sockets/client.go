package sockets

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Client is the client end of a socket opened by hand: the handshake, then
// frames read off the connection, with nothing of a library's between.
type Client struct {
	net.Conn
	br *bufio.Reader
}

// Dial opens a socket to addr offering Subprotocol.
func Dial(addr string) (*Client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
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
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.br, p)
	return h[0] & 0x0f, p, err
}

// pong answers a ping, masked as a client's frame must be (a zero key).
func (c *Client) pong(p []byte) error {
	b := append([]byte{0x8a, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	_, err := c.Write(b)
	return err
}
