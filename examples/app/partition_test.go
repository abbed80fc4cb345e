package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/longtest"
	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// probe is a call made again and again through a partition.
type probe struct{ name, token, method, params string }

// outcome is one answer to a probe.
type outcome struct {
	probe  string
	took   time.Duration
	status int
	code   int
	msg    string
	err    error // the call got no answer
}

// TestDatabasePartition: with PostgreSQL black-holed (connections open, no
// byte forwarded) until the instance notices that its notification
// connection is gone, and a round of calls after that, every call is
// answered, by its deadline at the latest: 200 where no query is needed
// and the cache still holds, else 500 or 503 with a generic message.
// Cached tokens included. Once the network is back, calls succeed again by
// themselves.
//
// It is long by design: the app's Sync notices a silent connection by its
// pings, 5 s apart, within about 10 s of real time.
func TestDatabasePartition(t *testing.T) {
	longtest.Skip(t, "waits for the app's Sync to notice a silent database, 5 to 10 s")
	t.Parallel()
	const callTimeout = 2 * time.Second
	u, err := url.Parse(storagetest.PostgresDSN(t))
	require.NoError(t, err)
	p := tcpproxy.New(t, u.Host)
	u.Host = p.Addr()

	var out bytes.Buffer
	a, err := newApp(t.Context(), config{
		DB: u.String(), RootPassword: "root-password-for-tests", CallTimeout: callTimeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: &out,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
		_ = a.Close()
	})
	ta := &testApp{app: a, url: srv.URL + "/api"}

	session := ta.signin(t, "root", "root-password-for-tests")
	r := ta.call(t, session, "/v1/api-tokens/create", `["partition"]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var created struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &created))
	unknown, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)

	probes := []probe{
		{name: "guest, no query", method: "/v1/test/test", params: `["x"]`},
		{name: "cached session", token: session, method: "/v1/test/test", params: `["x"]`},
		{name: "cached API token", token: created.Token, method: "/v1/test/test", params: `["x"]`},
		{name: "query", token: session, method: "/v1/admin/users/read", params: `[]`},
		{name: "profile", token: created.Token, method: "/v1/profile/read", params: `[]`},
		{name: "unknown token", token: unknown, method: "/v1/test/test", params: `["x"]`},
		{name: "sign-in", method: "/v1/session/signin", params: `[{"username":"root","password":"wrong"}]`},
	}
	// A call the server does not answer by its deadline fails here, after
	// a generous wait: only a broken deadline runs it out.
	client := &http.Client{Timeout: callTimeout + eventWait}
	call := func(pr probe) outcome {
		o := outcome{probe: pr.name}
		req, err := http.NewRequest(http.MethodPost, ta.url+pr.method, strings.NewReader(pr.params))
		require.NoError(t, err)
		if pr.token != "" {
			req.Header.Set("Authorization", "Bearer "+pr.token)
		}
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			o.took, o.err = time.Since(start), err
			return o
		}
		a, err := rpctest.ReadAnswer(res)
		o.took, o.err = time.Since(start), err
		if a != nil {
			o.status, o.code, o.msg = a.HTTP, a.Code, a.Message
		}
		return o
	}
	for _, pr := range probes { // warm the auth cache
		o := call(pr)
		require.NoError(t, o.err, pr.name)
		require.Contains(t, []int{200, 401}, o.status, "%s: %s", pr.name, o.msg)
	}

	// The partition lasts until the app's channels report the loss, and
	// then one more round: calls made while the cache reads through.
	noticed := make(chan struct{})
	var once sync.Once
	a.channel("auth").OnState(func(listening bool) {
		if !listening {
			once.Do(func() { close(noticed) })
		}
	})
	p.BlackHole()
	start := time.Now()
	giveUp := time.After(time.Minute)
	var outcomes []outcome
	for last := false; !last; {
		select {
		case <-noticed:
			last = true // this round starts after the loss was noticed
		case <-giveUp:
			t.Fatal("the app did not notice the partition within a minute")
		default:
		}
		// A round: every probe at once, so that it lasts as long as the
		// slowest (a query waits for its deadline).
		round := make([]outcome, len(probes))
		var wg sync.WaitGroup
		for i, pr := range probes {
			wg.Go(func() { round[i] = call(pr) })
		}
		wg.Wait()
		outcomes = append(outcomes, round...)
	}
	t.Logf("the app noticed the partition after %v", time.Since(start).Round(time.Millisecond))
	p.Restore()

	counts := map[string]map[int]int{}
	var slowest time.Duration
	for _, o := range outcomes {
		if counts[o.probe] == nil {
			counts[o.probe] = map[int]int{}
		}
		counts[o.probe][o.status]++
		slowest = max(slowest, o.took)
		if !assert.NoError(t, o.err, "%s got no answer", o.probe) {
			continue
		}
		switch o.status {
		case 200, 401, 429:
		case 500:
			assert.Equal(t, rpc.StatusText(500), o.msg, "%s: a generic message", o.probe)
		case 503:
			assert.Equal(t, "the call did not finish in time: try again later", o.msg, o.probe)
		default:
			t.Errorf("%s: HTTP %d (%d): %s", o.probe, o.status, o.code, o.msg)
		}
	}
	t.Logf("%d calls during the partition, call timeout %v: slowest answer %v; HTTP statuses per probe: %v",
		len(outcomes), callTimeout, slowest.Round(time.Millisecond), counts)
	assert.Positive(t, counts["query"][503]+counts["query"][500], "queries failed during the partition")

	start = time.Now()
	require.Eventually(t, func() bool {
		for _, pr := range probes[:6] {
			if o := call(pr); o.status != 200 {
				return false
			}
		}
		return true
	}, 20*time.Second, 200*time.Millisecond, "every call succeeds again once the network is back")
	t.Logf("recovered %v after the network came back", time.Since(start).Round(time.Millisecond))
}
