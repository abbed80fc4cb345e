package sockets

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Environment of the child processes and of the benchmarks.
const (
	serverEnv  = "SOCKBENCH_SERVER"  // impl,ping interval: TestServerChild serves
	clientsEnv = "SOCKBENCH_CLIENTS" // addr,count: TestClientsChild opens sockets
	countEnv   = "SOCKBENCH_SOCKETS" // sockets in BenchmarkIdleSockets (default 10,000)
	roundsEnv  = "SOCKBENCH_ROUNDS"  // ping rounds in BenchmarkIdleSockets (default 3)
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestServers: each server takes a socket and broadcasts to it.
func TestServers(t *testing.T) {
	for name, newServer := range Impls {
		t.Run(name, func(t *testing.T) {
			s := newServer(Options{})
			srv := httptest.NewServer(s)
			defer srv.Close()
			defer s.Close()
			c, err := Dial(srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for s.Sockets() < 1 {
				time.Sleep(time.Millisecond)
			}
			s.Broadcast(42)
			msg, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"jsonrpc":"2.0","method":"/event","params":["tick",42]}`; string(msg) != want {
				t.Fatalf("got %s, want %s", msg, want)
			}
		})
	}
}

// memory is what a server child says of itself.
type memory struct {
	rss, heap, stack int64
	sockets          int
}

// BenchmarkIdleSockets opens SOCKBENCH_SOCKETS (10,000) idle sockets to each
// server, run in a child process of its own so that its memory is only its
// own, and reports that process's resident memory per socket once they are
// open (KB/socket) and again after SOCKBENCH_ROUNDS (3) rounds of protocol
// pings, one a second (KB/socket-pinged), with the Go heap and stacks per
// socket of each. The clients here answer every ping.
func BenchmarkIdleSockets(b *testing.B) {
	n, rounds := envInt(countEnv, 10_000), envInt(roundsEnv, 3)
	for _, name := range []string{"gorilla", "coder", "authrpc"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				idle(b, name, n, rounds)
			}
		})
	}
}

func idle(b *testing.B, impl string, n, rounds int) {
	const interval = time.Second
	child := startServer(b, impl, interval)
	defer child.stop()
	before := child.mem(b)
	var clients []*Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range n {
		c, err := Dial(child.addr)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		go func() {
			for {
				if _, err := c.Next(); err != nil {
					return
				}
			}
		}()
	}
	open := child.mem(b)
	for open.sockets < n {
		time.Sleep(10 * time.Millisecond)
		open = child.mem(b)
	}
	time.Sleep(time.Duration(rounds)*interval + interval/2)
	pinged := child.mem(b)
	if pinged.sockets != n {
		b.Fatalf("%d sockets open after the pings, want %d", pinged.sockets, n)
	}
	per := func(v, base int64) float64 { return float64(v-base) / float64(n) / 1024 }
	b.ReportMetric(per(open.rss, before.rss), "KB/socket")
	b.ReportMetric(per(pinged.rss, before.rss), "KB/socket-pinged")
	b.ReportMetric(per(open.heap, before.heap), "KB-heap/socket")
	b.ReportMetric(per(open.stack, before.stack), "KB-stack/socket")
	b.ReportMetric(per(pinged.heap+pinged.stack, before.heap+before.stack), "KB-heap+stack/socket-pinged")
}

// serverChild is a server in a child process.
type serverChild struct {
	cmd  *exec.Cmd
	in   *os.File
	out  *bufio.Scanner
	addr string
}

func startServer(b *testing.B, impl string, ping time.Duration) *serverChild {
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerChild$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", serverEnv, impl, ping))
	cmd.Stderr = os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdin = r
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	r.Close()
	c := &serverChild{cmd: cmd, in: w, out: bufio.NewScanner(out)}
	for c.out.Scan() {
		if addr, ok := strings.CutPrefix(c.out.Text(), "addr "); ok {
			c.addr = addr
			return c
		}
	}
	b.Fatal("server child: no address")
	return nil
}

func (c *serverChild) mem(b *testing.B) memory {
	if _, err := fmt.Fprintln(c.in, "mem"); err != nil {
		b.Fatal(err)
	}
	for c.out.Scan() {
		var m memory
		if _, err := fmt.Sscanf(c.out.Text(), "mem %d %d %d %d", &m.rss, &m.heap, &m.stack, &m.sockets); err == nil {
			return m
		}
	}
	b.Fatal("server child: no answer")
	return memory{}
}

func (c *serverChild) stop() {
	c.in.Close()
	_ = c.cmd.Wait()
}

// TestServerChild is BenchmarkIdleSockets' server: it serves, says its
// address, and answers each "mem" line on its stdin with its memory, until
// stdin closes.
func TestServerChild(t *testing.T) {
	spec := os.Getenv(serverEnv)
	if spec == "" {
		t.Skip("run by BenchmarkIdleSockets")
	}
	impl, ping, _ := strings.Cut(spec, ",")
	d, _ := strconv.ParseInt(ping, 10, 64)
	s := Impls[impl](Options{PingInterval: time.Duration(d)})
	srv := httptest.NewServer(s)
	fmt.Println("addr", srv.Listener.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Println("mem", rss(), ms.HeapInuse, ms.StackInuse, s.Sockets())
	}
	s.Close()
	srv.Close()
}

// rss returns the process's resident memory, 0 where /proc does not tell.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkFanout publishes one event to 1,000 and to 10,000 sockets of a
// server in this process, whose clients live in a child process (bare
// sockets, a goroutine each), and reports, over the events, the 50th and
// 99th percentiles of the time from the publish until the last socket had
// it (ms-last-p50, ms-last-p99), and of the time each socket took
// (ms-p99). The server is authrpc's registry (Publish) or a plain
// coder/websocket one that writes the event, encoded once, from a
// goroutine per socket. Run it with -benchtime 50x or so.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		for _, name := range []string{"coder", "authrpc"} {
			b.Run(fmt.Sprintf("%d/%s", n, name), func(b *testing.B) { fanout(b, name, n) })
		}
	}
}

func fanout(b *testing.B, impl string, n int) {
	s := Impls[impl](Options{MaxSockets: n + 10, PingInterval: time.Hour})
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestClientsChild$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", clientsEnv, srv.Listener.Addr(), n))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
	}
	for s.Sockets() < n {
		time.Sleep(10 * time.Millisecond)
	}
	var last, each []time.Duration
	for b.Loop() {
		s.Broadcast(time.Now().UnixNano())
		if !sc.Scan() {
			b.Fatal("clients child: no answer")
		}
		var l, p int64
		if _, err := fmt.Sscanf(sc.Text(), "done %d %d", &l, &p); err != nil {
			b.Fatalf("clients child: %q", sc.Text())
		}
		last, each = append(last, time.Duration(l)), append(each, time.Duration(p))
	}
	pct := func(ds []time.Duration, p int) float64 {
		slices.Sort(ds)
		return float64(ds[(len(ds)-1)*p/100].Microseconds()) / 1000
	}
	b.ReportMetric(pct(last, 50), "ms-last-p50")
	b.ReportMetric(pct(last, 99), "ms-last-p99")
	b.ReportMetric(pct(each, 99), "ms-p99")
}

// TestClientsChild is BenchmarkFanout's clients: it opens the sockets, says
// "ready", and, for each event every socket got, says "done", the time its
// last socket took and the 99th percentile of theirs, in nanoseconds,
// until its stdin closes.
func TestClientsChild(t *testing.T) {
	spec := os.Getenv(clientsEnv)
	if spec == "" {
		t.Skip("run by BenchmarkFanout")
	}
	addr, count, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(count)
	// One event is out at a time: each socket writes its time in its
	// slot, and the last one to count down reports.
	var (
		remaining atomic.Int64
		took      = make([]time.Duration, n)
	)
	remaining.Store(int64(n))
	prefix := []byte(`"tick",`)
	for k := range n {
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			for {
				msg, err := c.Next()
				if err != nil {
					return
				}
				at := time.Now().UnixNano()
				i := bytes.Index(msg, prefix)
				sent, err := strconv.ParseInt(string(bytes.TrimRight(msg[i+len(prefix):], "]}")), 10, 64)
				if i < 0 || err != nil {
					t.Errorf("not an event: %s", msg)
					return
				}
				took[k] = time.Duration(at - sent)
				if remaining.Add(-1) == 0 {
					ds := slices.Clone(took)
					slices.Sort(ds)
					remaining.Store(int64(n))
					fmt.Println("done", int64(ds[n-1]), int64(ds[(n-1)*99/100]))
				}
			}
		}()
	}
	fmt.Println("ready")
	var buf [1]byte
	_, _ = os.Stdin.Read(buf[:]) // until closed
}
