package tcpproxy_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/tcpproxy"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, within time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(within))
	return r.ReadString('\n')
}

func TestBlackHoleHoldsBytesUntilRestore(t *testing.T) {
	t.Parallel()
	p := tcpproxy.New(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	line, err := roundTrip(c, r, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)

	p.BlackHole()
	_, err = roundTrip(c, r, 200*time.Millisecond)
	require.Error(t, err, "nothing comes back through a black hole")
	fresh, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err, "a black hole accepts")
	defer fresh.Close()
	fr := bufio.NewReader(fresh)
	_, err = roundTrip(fresh, fr, 200*time.Millisecond)
	require.Error(t, err)

	p.Restore()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	line, err = r.ReadString('\n')
	require.NoError(t, err, "the held bytes go through")
	assert.Equal(t, "ping\n", line)
	_ = fresh.SetReadDeadline(time.Now().Add(time.Second))
	line, err = fr.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
}

func TestCutClosesAndRefuses(t *testing.T) {
	t.Parallel()
	p := tcpproxy.New(t, echoServer(t))
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = roundTrip(c, r, time.Second)
	require.NoError(t, err)

	p.Cut()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = r.ReadString('\n')
	require.Error(t, err, "closed")
	refused, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer refused.Close()
	_ = refused.SetReadDeadline(time.Now().Add(time.Second))
	_, err = refused.Read(make([]byte, 1))
	require.Error(t, err, "closed at once")

	p.Restore()
	again, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer again.Close()
	line, err := roundTrip(again, bufio.NewReader(again), time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
}
