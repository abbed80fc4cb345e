package main

import (
	"bytes"
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

func drive(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080/api", "the API's base URL")
	method := fs.String("method", "/v1/test/test", "the method to call")
	params := fs.String("params", `["hello"]`, "the parameters, a JSON array")
	conc := fs.Int("c", 32, "concurrent callers")
	dur := fs.Duration("d", 10*time.Second, "how long to drive the load")
	signin := fs.String("signin", "", "user:password to sign in as, once per caller, so every caller has its own session token")
	token := fs.String("token", "", "a bearer token every caller uses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conc < 1 {
		return fmt.Errorf("-c must be at least 1")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}}
	tokens := make([]string, *conc)
	for i := range tokens {
		tokens[i] = *token
		if *signin != "" {
			t, err := signIn(ctx, client, *base, *signin)
			if err != nil {
				return err
			}
			tokens[i] = t
		}
	}
	r, err := load(ctx, client, *base+*method, []byte(*params), tokens, *dur)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s, %d callers, %s: %s\n", *base, *method, *conc, *dur, r)
	return nil
}

func signIn(ctx context.Context, client *http.Client, base, userPass string) (string, error) {
	user, pass, ok := strings.Cut(userPass, ":")
	if !ok {
		return "", fmt.Errorf("-signin takes user:password")
	}
	body, _ := json.Marshal([]any{map[string]string{"username": user, "password": pass}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/session/signin", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	defer resp.Body.Close()
	var env struct {
		Result *struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	if env.Result == nil {
		msg := "no result"
		if env.Error != nil {
			msg = env.Error.Message
		}
		return "", fmt.Errorf("sign in: HTTP %d: %s", resp.StatusCode, msg)
	}
	return env.Result.Data.Token, nil
}

// load runs one caller per token, each sending its next request as soon as
// the last one is answered, for d.
func load(ctx context.Context, client *http.Client, url string, body []byte, tokens []string, d time.Duration) (report, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	start := time.Now()
	for _, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			myErrs := 0
			for ctx.Err() == nil {
				t0 := time.Now()
				ok := once(ctx, client, url, body, token)
				if ctx.Err() != nil {
					break // cut off by the deadline: not a real answer
				}
				mine = append(mine, time.Since(t0))
				if !ok {
					myErrs++
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errs += myErrs
			mu.Unlock()
		}()
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

func once(ctx context.Context, client *http.Client, url string, body []byte, token string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
