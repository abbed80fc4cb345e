package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/authrpc/authrpc/client"
)

type report struct {
	Requests   int
	Errors     int
	Elapsed    time.Duration
	Throughput float64 // requests per second
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
}

func (r report) String() string {
	return fmt.Sprintf("requests %d, errors %d, %.0f req/s, latency p50 %s p90 %s p99 %s max %s",
		r.Requests, r.Errors, r.Throughput, r.P50, r.P90, r.P99, r.Max)
}

// driveFlags are the flags of "load run".
type driveFlags struct {
	base      string
	transport string
	encoding  string
	method    string
	params    string
	conc      int
	dur       time.Duration
	signin    string
	token     string
}

func drive(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f driveFlags
	fs.StringVar(&f.base, "url", "http://127.0.0.1:8080/api", "the API's base URL")
	fs.StringVar(&f.transport, "transport", "http", "http: one request per call; ws: one WebSocket per caller (the server reads each at most WebSocketOptions.MaxMessagesPerSecond, 1,000 by default)")
	fs.StringVar(&f.encoding, "encoding", "json", "json or msgpack")
	fs.StringVar(&f.method, "method", "/v1/test/test", "the method to call")
	fs.StringVar(&f.params, "params", `["hello"]`, "the parameters, a JSON array")
	fs.IntVar(&f.conc, "c", 32, "concurrent callers")
	fs.DurationVar(&f.dur, "d", 10*time.Second, "how long to start calls (each caller makes at least one; calls in flight finish)")
	fs.StringVar(&f.signin, "signin", "", "user:password to sign in as, once per caller, so every caller has its own session token")
	fs.StringVar(&f.token, "token", "", "a bearer token every caller uses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.conc < 1 {
		return fmt.Errorf("-c must be at least 1")
	}
	var params []json.RawMessage
	if err := json.Unmarshal([]byte(f.params), &params); err != nil {
		return fmt.Errorf("-params must be a JSON array: %w", err)
	}
	callers, err := dialCallers(ctx, f)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range callers {
			_ = c.Close()
		}
	}()
	r, err := load(ctx, callers, f.method, params, f.dur)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s over %s in %s, %d callers, %s: %s\n", f.base, f.method, f.transport, f.encoding, f.conc, f.dur, r)
	return nil
}

// dialCallers makes one client per caller, each with its own token when
// -signin is given; over ws each holds its socket open.
func dialCallers(ctx context.Context, f driveFlags) ([]*client.Client, error) {
	opts := client.Options{
		Token:      f.token,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: f.conc, MaxConnsPerHost: f.conc}},
	}
	switch f.encoding {
	case "json":
	case "msgpack":
		opts.Encoding = client.MessagePack
	default:
		return nil, fmt.Errorf("-encoding must be json or msgpack, not %q", f.encoding)
	}
	url := f.base
	switch f.transport {
	case "http":
	case "ws":
		url = "ws" + strings.TrimPrefix(url, "http") // http:// → ws://, https:// → wss://
		// A socket holds its connection for good: the pool's bound is for HTTP.
		opts.HTTPClient = &http.Client{}
	default:
		return nil, fmt.Errorf("-transport must be http or ws, not %q", f.transport)
	}
	var signin *client.Client
	if f.signin != "" {
		var err error
		if signin, err = client.New(f.base, client.Options{HTTPClient: opts.HTTPClient}); err != nil {
			return nil, err
		}
	}
	callers := make([]*client.Client, f.conc)
	for i := range callers {
		o := opts
		if signin != nil {
			t, err := signIn(ctx, signin, f.signin)
			if err != nil {
				return nil, err
			}
			o.Token = t
		}
		c, err := client.New(url, o)
		if err != nil {
			return nil, err
		}
		callers[i] = c
		if f.transport == "ws" {
			// Connected before the clock starts: dialling is not load.
			if err := c.Ping(ctx); err != nil {
				return nil, fmt.Errorf("connect: %w", err)
			}
		}
	}
	return callers, nil
}

func signIn(ctx context.Context, c *client.Client, userPass string) (string, error) {
	user, pass, ok := strings.Cut(userPass, ":")
	if !ok {
		return "", fmt.Errorf("-signin takes user:password")
	}
	s, err := client.Call[struct {
		Token string `json:"token"`
	}](ctx, c, "/v1/session/signin", map[string]string{"username": user, "password": pass})
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	return s.Token, nil
}

// load runs one goroutine per caller, each making its next call as soon as
// the last one is answered, for d. A refusal counts as an error.
func load(ctx context.Context, callers []*client.Client, method string, params []json.RawMessage, d time.Duration) (report, error) {
	args := make([]any, len(params))
	for i, p := range params {
		args[i] = p
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	// Callers start calls until d has passed, each at least one, and wait
	// for the calls they started: a loaded machine still reports something.
	start := time.Now()
	deadline := start.Add(d)
	for _, c := range callers {
		wg.Go(func() {
			var mine []time.Duration
			myErrs := 0
			for first := true; first || time.Now().Before(deadline); first = false {
				t0 := time.Now()
				_, err := c.Call(ctx, method, args...)
				if ctx.Err() != nil {
					break // the run was cancelled: not a real answer
				}
				mine = append(mine, time.Since(t0))
				if err != nil {
					myErrs++
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errs += myErrs
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return report{}, fmt.Errorf("no request completed")
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	return report{
		Requests:   len(latencies),
		Errors:     errs,
		Elapsed:    elapsed,
		Throughput: float64(len(latencies)) / elapsed.Seconds(),
		P50:        pct(0.50),
		P90:        pct(0.90),
		P99:        pct(0.99),
		Max:        latencies[len(latencies)-1],
	}, nil
}
