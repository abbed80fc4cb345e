package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// benchRegistry has /v1/echo for a signed-in caller, as BenchmarkCall's.
func benchRegistry(b *testing.B, opts rpc.Options) (*rpc.Registry, string) {
	b.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := rpc.New(opts)
	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		b.Fatal(err)
	}
	user := &auth.Principal{UserID: 2, Username: "bench", Kind: auth.KindSession, TokenID: 1}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, t string) (*auth.Principal, error) {
		if bytes.Equal(auth.Digest(t), digest) {
			return user, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/echo", Title: "Echo", Permissions: []string{auth.User},
		Params:  []rpc.Param{{Name: "text"}},
		Handler: func(ctx context.Context, text string) (string, error) { return text, nil },
	})
	return reg, token
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/" }

func benchDial(b *testing.B, srv *httptest.Server, token string) *websocket.Conn {
	b.Helper()
	protos := []string{rpc.Subprotocol}
	if token != "" {
		protos = append(protos, token)
	}
	c, _, err := websocket.Dial(context.Background(), wsURL(srv), &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.CloseNow() })
	return c
}

// BenchmarkTransport compares one call, over loopback, through HTTP (a
// keep-alive connection) and through an open WebSocket, JSON and
// MessagePack, one caller at a time and in parallel: the bar is that a
// socket costs no more than HTTP.
func BenchmarkTransport(b *testing.B) {
	// One socket here makes calls as fast as it can: past the default
	// MaxMessagesPerSecond, which BenchmarkFlood measures.
	reg, token := benchRegistry(b, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxMessagesPerSecond: 1 << 30}})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	want := []byte(`"data":"world"`)

	httpCall := func(b *testing.B, client *http.Client) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/echo", strings.NewReader(`["world"]`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !bytes.Contains(body, want) {
			b.Fatalf("unexpected answer %s", body)
		}
	}
	frame := []byte(`{"jsonrpc":"2.0","method":"/v1/echo","params":["world"],"id":1}`)
	packed, _ := msgpack.Marshal(map[string]any{"jsonrpc": "2.0", "method": "/v1/echo", "params": []string{"world"}, "id": 1})
	wsCall := func(b *testing.B, c *websocket.Conn, typ websocket.MessageType, msg []byte) {
		ctx := context.Background()
		if err := c.Write(ctx, typ, msg); err != nil {
			b.Fatal(err)
		}
		_, reply, err := c.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if typ == websocket.MessageText && !bytes.Contains(reply, want) {
			b.Fatalf("unexpected answer %s", reply)
		}
	}

	b.Run("http", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.ReportAllocs()
		for b.Loop() {
			httpCall(b, client)
		}
	})
	b.Run("websocket", func(b *testing.B) {
		c := benchDial(b, srv, token)
		b.ReportAllocs()
		for b.Loop() {
			wsCall(b, c, websocket.MessageText, frame)
		}
	})
	b.Run("websocket-msgpack", func(b *testing.B) {
		c := benchDial(b, srv, token)
		b.ReportAllocs()
		for b.Loop() {
			wsCall(b, c, websocket.MessageBinary, packed)
		}
	})
	b.Run("http-parallel", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				httpCall(b, client)
			}
		})
	})
	b.Run("websocket-parallel", func(b *testing.B) {
		var mu sync.Mutex
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			c := benchDial(b, srv, token) // one socket per goroutine, as one per browser tab
			mu.Unlock()
			for pb.Next() {
				wsCall(b, c, websocket.MessageText, frame)
			}
		})
	})
}

// idleClientsEnv tells the test binary, started again by
// BenchmarkIdleSockets, to hold that many sockets open to an address.
const idleClientsEnv = "AUTHRPC_BENCH_IDLE_CLIENTS"

// BenchmarkIdleSockets opens many idle sockets (AUTHRPC_BENCH_SOCKETS,
// default 10,000) and reports the server process's memory with them open,
// beside the same process before. The client ends live in a child process,
// so that only the server's memory is counted and each process stays
// within its open-file limit. The bar: 10,000 idle sockets under 300 MB.
func BenchmarkIdleSockets(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("AUTHRPC_BENCH_SOCKETS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			WebSocket: rpc.WebSocketOptions{MaxSockets: n + 10, MaxSocketsPerAddr: n + 10}})
		srv := httptest.NewServer(reg)
		runtime.GC()
		before := rss(b)

		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleSocketClients$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", idleClientsEnv, srv.Listener.Addr(), n))
		stdin, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sc := bufio.NewScanner(out)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "ready") {
		}
		deadline := time.Now().Add(30 * time.Second)
		for reg.Sockets() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := reg.Sockets(); got != n {
			b.Fatalf("%d sockets open, want %d", got, n)
		}
		b.Logf("%d sockets open after %s", n, time.Since(start).Round(time.Millisecond))
		runtime.GC()
		after := rss(b)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(after)/(1<<20), "MB-rss")
		b.ReportMetric(float64(before)/(1<<20), "MB-rss-before")
		b.ReportMetric(float64(after-before)/float64(n)/1024, "KB/socket")
		b.ReportMetric(float64(ms.HeapInuse+ms.StackInuse)/(1<<20), "MB-heap+stack")

		// One event to all of them stays quick with so many open.
		t0 := time.Now()
		if err := reg.Publish(context.Background(), "tick", []string{rpc.GroupAll}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms-publish-queue")

		stdin.Close()
		_ = cmd.Wait()
		srv.CloseClientConnections()
		srv.Close()
		_ = reg.Shutdown(context.Background())
	}
}

// rss returns the process's resident memory.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Skip("no VmRSS")
	return 0
}

// TestIdleSocketClients is BenchmarkIdleSockets' child: it opens the
// sockets by hand (a handshake and nothing more: no goroutine per socket),
// says "ready", and holds them until its stdin closes.
func TestIdleSocketClients(t *testing.T) {
	t.Parallel()
	spec := os.Getenv(idleClientsEnv)
	if spec == "" {
		t.Skip("run by BenchmarkIdleSockets")
	}
	addr, count, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(count)
	conns := make([]net.Conn, 0, n)
	req := []byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: jsonrpc_2.0\r\n\r\n")
	buf := make([]byte, 1024)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		got := 0
		for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
			k, err := c.Read(buf[got:])
			if err != nil {
				t.Fatal(err)
			}
			got += k
		}
		if !bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 101")) {
			t.Fatalf("upgrade refused: %s", buf[:got])
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// BenchmarkEventFanout publishes one event to 1,000 sockets and reports
// the 99th percentile, over every socket and event, of the time from
// Publish to the socket's client reading it. The clients are bare (a
// handshake, then frames read off the connection), so that they take
// little of the CPU the server shares with them. The bar: p99 under 50 ms.
func BenchmarkEventFanout(b *testing.B) {
	const sockets = 1000
	reg, _ := benchRegistry(b, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxSockets: sockets + 10, MaxSocketsPerAddr: sockets + 10}})
	srv := httptest.NewServer(reg)
	defer srv.Close()

	var (
		mu        sync.Mutex
		latencies []time.Duration
		published atomic.Int64 // UnixNano of the last Publish
		got       sync.WaitGroup
	)
	for range sockets {
		c, br := bareSocket(b, srv.Listener.Addr().String())
		b.Cleanup(func() { c.Close() })
		go func() {
			for {
				if _, err := readFrame(br); err != nil {
					return
				}
				d := time.Since(time.Unix(0, published.Load()))
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
				got.Done()
			}
		}()
	}
	for reg.Sockets() < sockets {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	for b.Loop() {
		got.Add(sockets)
		published.Store(time.Now().UnixNano())
		if err := reg.Publish(ctx, "tick", []string{rpc.GroupAll}, 1); err != nil {
			b.Fatal(err)
		}
		got.Wait()
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "ms-p99")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "ms-p50")
}

// bareSocket opens a socket by hand: the handshake and nothing more.
func bareSocket(tb testing.TB, addr string) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: jsonrpc_2.0\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade: %v %v", res, err)
	}
	return c, br
}

// readFrame reads one unmasked frame from the server and returns its payload.
func readFrame(br *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, err
		}
		n = uint64(l[0])<<8 | uint64(l[1])
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, err
		}
		n = 0
		for _, c := range l {
			n = n<<8 | uint64(c)
		}
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return p, err
}

// BenchmarkFlood measures calls on one socket, paced at 500 a second as a
// busy page would make them, while another socket floods the server with
// calls as fast as it can write them, beside the same calls with nobody
// flooding: with the default MaxMessagesPerSecond, and without that bound
// to show what it does. It reports the calls' mean latency as ns/op. The
// bar: flooded calls at most 20 % slower.
func BenchmarkFlood(b *testing.B) {
	for _, cfg := range []struct {
		name string
		opts rpc.WebSocketOptions
	}{
		{"default", rpc.WebSocketOptions{}},
		{"unbounded", rpc.WebSocketOptions{MaxMessagesPerSecond: 1 << 30}},
	} {
		b.Run(cfg.name, func(b *testing.B) { benchFlood(b, cfg.opts) })
	}
}

func benchFlood(b *testing.B, opts rpc.WebSocketOptions) {
	reg, token := benchRegistry(b, rpc.Options{WebSocket: opts})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	frame := []byte(`{"jsonrpc":"2.0","method":"/v1/echo","params":["world"],"id":1}`)
	measure := func(b *testing.B) {
		c := benchDial(b, srv, token)
		ctx := context.Background()
		var total time.Duration
		var lat []time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.Read(ctx); err != nil {
				b.Fatal(err)
			}
			d := time.Since(t0)
			total += d
			lat = append(lat, d)
			time.Sleep(2*time.Millisecond - d)
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/op")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-p99")
	}
	b.Run("calm", measure)
	b.Run("flooded", func(b *testing.B) {
		flooder := benchDial(b, srv, token)
		ctx, cancel := context.WithCancel(context.Background())
		var answered atomic.Int64
		done := make(chan struct{}, 2)
		go func() { // read the replies, or the flooder's own socket would stall it
			defer func() { done <- struct{}{} }()
			for {
				if _, _, err := flooder.Read(ctx); err != nil {
					return
				}
				answered.Add(1)
			}
		}()
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				if flooder.Write(ctx, websocket.MessageText, frame) != nil {
					return
				}
			}
		}()
		time.Sleep(50 * time.Millisecond) // let the flood start
		start, before := time.Now(), answered.Load()
		measure(b)
		b.ReportMetric(float64(answered.Load()-before)/time.Since(start).Seconds(), "flood-answers/s")
		cancel()
		flooder.CloseNow()
		<-done
		<-done
	})
}
