package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// loadEnv names the environment variable that turns this test binary into
// the load generator of BenchmarkServer (see TestMain): it holds a
// loadPlan in JSON.
const loadEnv = "AUTHRPC_BENCH_LOADGEN"

// loadPlan is what the load generator sends: N POSTs of Body to URL as the
// bearer of Token, from C connections kept alive.
type loadPlan struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	Body  []byte `json:"body"`
	Want  string `json:"want"`
	N     int    `json:"n"`
	C     int    `json:"c"`
}

// BenchmarkServer measures whole servers over real sockets: each serves on
// a loopback port with the example app's http.Server settings (newServer),
// and a load generator in a child process (this test binary, see TestMain)
// sends requests from loadConns keep-alive connections. A server's CPU per
// request is read from /proc/self/stat (the child's time is its own); the
// call log's writer is in it, as each server's share of the clock runs
// until the writer has stored all but the last partial batch.
//
// The servers compared take turns in rounds (loadRounds), b.N/loadRounds
// requests each a turn, so that a machine whose load drifts moves them
// alike; each reports <server>-cpu-ns/op, and the ratio of the last to the
// first is x (its bound in issue 27 after the name):
//
//   - greet: the flat struct method served by benchkit.HandWritten (hand),
//     through the whole example app with the call stored by the call log
//     (app), and without the call log (nolog); x is app/hand (1.1x);
//   - profile: /v1/profile/read through the app, which reads the caller's
//     user record from the database, beside the flat struct method, a call
//     that reads nothing, on the same app; x is profile/greet (1.5x).
//
// Run: go test -run '^$' -bench BenchmarkServer -benchtime 40000x -count 3 ./examples/app
func BenchmarkServer(b *testing.B) {
	greetBody := []byte(`[{"name":"world","count":3}]`)
	const greetPath, greetWant = "/api/v1/bench/greet", `"data":{"greeting":"Hello, world","count":3}`

	b.Run("greet", func(b *testing.B) {
		token, _, err := auth.NewToken(auth.KindSession)
		if err != nil {
			b.Fatal(err)
		}
		hand := http.StripPrefix("/api", benchkit.HandWritten(token, checkGreet, greet))
		app, appToken, appDrained := benchGreetApp(b, false)
		nolog, nologToken, nologDrained := benchGreetApp(b, true)
		benchServers(b,
			loadServer{"hand", hand, nil, loadPlan{URL: greetPath, Token: token, Body: greetBody, Want: greetWant}},
			loadServer{"nolog", nolog, nologDrained, loadPlan{URL: greetPath, Token: nologToken, Body: greetBody, Want: greetWant}},
			loadServer{"app", app, appDrained, loadPlan{URL: greetPath, Token: appToken, Body: greetBody, Want: greetWant}},
		)
	})
	b.Run("profile", func(b *testing.B) {
		app, token, drained := benchGreetApp(b, false)
		benchServers(b,
			loadServer{"greet", app, drained, loadPlan{URL: greetPath, Token: token, Body: greetBody, Want: greetWant}},
			loadServer{"profile", app, drained, loadPlan{URL: "/api/v1/profile/read", Token: token, Body: []byte(`[]`), Want: `"name":"root"`}},
		)
	})
}

// benchGreetApp starts the example app on SQLite with the flat struct
// method, its calls stored by the call log unless noLog, signed in as root.
// drained waits until the call log has stored all but a partial batch.
func benchGreetApp(b *testing.B, noLog bool) (h http.Handler, token string, drained func()) {
	a, token := benchAppSignedIn(b, storagetest.SQLiteDSN(b))
	a.reg.Register(rpc.Method{
		ID: "/v1/bench/greet", Title: "Greet", Permissions: []string{auth.User}, NoCallLog: noLog,
		Params:  []rpc.Param{{Name: "params"}},
		Handler: func(ctx context.Context, p greetParams) (greeting, error) { return greet(p), nil },
	})
	drained = func() {
		for a.calls.Stats().Queued >= calllogBatch {
			time.Sleep(100 * time.Microsecond)
		}
		if d := a.calls.Stats().Dropped; d > 0 {
			b.Fatalf("the call log dropped %d rows", d)
		}
	}
	return a.Handler(), token, drained
}

// loadServer is one server BenchmarkServer compares: its handler, what
// waits for its background work (nil: none) and the requests it is sent.
type loadServer struct {
	name    string
	h       http.Handler
	drained func()
	plan    loadPlan
}

// loadConns is how many connections the load generator sends on at once:
// enough to keep both of the machine's cores busy with the server.
const loadConns = 4

// loadRounds is how many turns each server takes.
const loadRounds = 4

// benchServers serves each server on a loopback port and has child
// processes send them b.N requests each, in turns, and reports each one's
// CPU per request and the ratio of the last's to the first's.
func benchServers(b *testing.B, servers ...loadServer) {
	for i := range servers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := newServer(servers[i].h)
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
		servers[i].plan.URL = "http://" + ln.Addr().String() + servers[i].plan.URL
		servers[i].plan.C = loadConns
	}
	if _, ok := selfCPU(); !ok {
		b.Skip("no /proc/self/stat: the server's CPU cannot be read")
	}
	cpu := make([]time.Duration, len(servers))
	b.ResetTimer()
	for round := range loadRounds {
		n := b.N / loadRounds
		if round == 0 {
			n += b.N % loadRounds
		}
		for i, s := range servers {
			d, err := loadTurn(b.Context(), s, n)
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			cpu[i] += d
		}
	}
	b.StopTimer()
	for i, s := range servers {
		b.ReportMetric(float64(cpu[i])/float64(b.N), s.name+"-cpu-ns/op")
	}
	b.ReportMetric(float64(cpu[len(cpu)-1])/float64(cpu[0]), "x")
}

// loadTurn has a child process send n requests to s and returns the CPU
// time this process spent meanwhile, s's background work included.
func loadTurn(ctx context.Context, s loadServer, n int) (time.Duration, error) {
	plan := s.plan
	plan.N = n
	raw, err := json.Marshal(plan)
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), loadEnv+"="+string(raw))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start, _ := selfCPU()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("load generator: %w\n%s", err, out.Bytes())
	}
	if s.drained != nil {
		s.drained()
	}
	end, _ := selfCPU()
	return end - start, nil
}

// selfCPU is this process's CPU time from /proc/self/stat (in clock ticks
// of 10 ms: runs of thousands of requests make that precise enough).
func selfCPU() (time.Duration, bool) { return benchkit.ProcCPU(os.Getpid()) }

// generateLoad sends plan's requests and returns the first failure.
func generateLoad(plan loadPlan) error {
	tr := &http.Transport{MaxIdleConnsPerHost: plan.C, MaxConnsPerHost: plan.C}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	send := func(check bool) error {
		req, err := http.NewRequest(http.MethodPost, plan.URL, bytes.NewReader(plan.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+plan.Token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || (check && !bytes.Contains(body, []byte(plan.Want))) {
			return fmt.Errorf("answer %d: %s", resp.StatusCode, body)
		}
		return nil
	}
	if err := send(true); err != nil { // the call meant, before counting
		return err
	}
	var (
		left  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	left.Store(int64(plan.N - 1))
	for range plan.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := send(false); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// runLoadGenerator runs this binary as BenchmarkServer's load generator
// when loadEnv says so, and reports whether it did (with the exit code).
func runLoadGenerator() (int, bool) {
	raw, ok := os.LookupEnv(loadEnv)
	if !ok {
		return 0, false
	}
	var plan loadPlan
	if err := json.Unmarshal([]byte(raw), &plan); err != nil {
		fmt.Fprintln(os.Stderr, "load generator:", err)
		return 2, true
	}
	if err := generateLoad(plan); err != nil {
		fmt.Fprintln(os.Stderr, "load generator: "+strconv.Quote(err.Error()))
		return 1, true
	}
	return 0, true
}

func TestMain(m *testing.M) {
	if code, ok := runLoadGenerator(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}
