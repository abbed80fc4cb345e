package users_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

const mib = 1 << 20

// The bar: peak heap stays under 200 MiB while 200 sign-ins run in parallel
// with the default (OWASP: 19 MiB, t=2) hasher. The rate limits are off, so
// that every sign-in reaches argon2; the hasher's bound on concurrent hashes
// is what holds memory down.
func TestSigninPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 200 passwords with OWASP parameters: skipped with -short")
	}
	db := storagetest.SQLite(t)
	// A call deadline past the longest queue on a loaded machine: this bar
	// is about memory, and a 503 would hide a hash.
	e := newEnvRPC(t, db, func(o *rpc.Options) { o.CallTimeout = 10 * time.Minute }, func(o *users.Options) {
		// The default hasher, with a queue long enough for all 200: this
		// bar is about memory, and refusals would hide a hash.
		o.Hasher = auth.NewHasher(auth.HasherOptions{
			MaxConcurrent: users.DefaultMaxConcurrentHashes, MaxQueue: 200, MaxWait: time.Hour,
		})
		o.SigninLimitPerName.Burst = -1
		o.SigninLimitPerAddr.Burst = -1
		o.SigninLimitPerNameAddr.Burst = -1
	})
	root := e.root(t)
	e.create(t, root, "ann", "ann-password", nil)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peakInuse, peakAlloc atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakInuse.Load() {
				peakInuse.Store(ms.HeapInuse)
			}
			if ms.HeapAlloc > peakAlloc.Load() {
				peakAlloc.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, 200)
	for i := range codes {
		wg.Go(func() {
			password := "wrong-password"
			if i%2 == 0 {
				password = "ann-password"
			}
			codes[i] = signinFrom(t, e, fmt.Sprintf("198.51.100.%d", i%250), "ann", password).Code
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(stop)
	<-sampled

	for i, c := range codes {
		want := 401
		if i%2 == 0 {
			want = 200
		}
		require.Equal(t, want, c, "sign-in %d", i)
	}
	t.Logf("200 parallel sign-ins in %v; heap before %.1f MiB; peak HeapInuse %.1f MiB, peak HeapAlloc %.1f MiB",
		took, float64(base.HeapInuse)/mib, float64(peakInuse.Load())/mib, float64(peakAlloc.Load())/mib)
	assert.Less(t, peakInuse.Load(), uint64(200*mib), "peak HeapInuse")
	assert.Less(t, peakAlloc.Load(), uint64(200*mib), "peak HeapAlloc")
}

// searchCases are searches over the seeded users: what each finds, and
// whether PostgreSQL can narrow it with the trigram indexes (a pattern of
// three characters or more that few rows match).
var searchCases = []struct {
	search  string
	what    string
	indexed bool
}{
	{"a3f9", "a fragment of a few names", true},
	{"u4242", "a user's name", true},
	{"tg_4f", "a fragment of a telegram name", true},
	{"ivan.petrov", "an email's local part: a quarter of all users", false},
	{"example.org", "a common domain: a third of all users", false},
	{"user", "every user", false},
	{"99", "two characters: too short for trigrams", false},
}

// A search over 100,000 users is as fast as its plan: a selective search
// must reach the rows through the trigram indexes, not by reading the whole
// table. The plan is checked, not the clock (BenchmarkSearchPostgres times
// it): the read's own SQL, recorded as the handler ran it, is explained.
func TestSearchUsesTrigramIndexesPostgres(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("seeds 100,000 users: skipped with -short")
	}
	db := storagetest.Postgres(t) // skips, saying so, without TEST_POSTGRES_DSN
	db, queries := storagetest.RecordQueries(db)
	e := newEnv(t, db)
	root := e.root(t)
	seedUsers(t, db, 100_000)

	for _, c := range searchCases {
		before := len(queries.All())
		a := e.ok(t, root, "/v1/admin/users/read", searchOptions(c.search))
		total := int(a.Meta["total"].(float64))
		require.Positive(t, total, "search %q finds %s", c.search, c.what)
		reads := selectsOfUsers(queries.All()[before:])
		require.Len(t, reads, 2, "search %q: the page and its count", c.search)
		if !c.indexed {
			continue
		}
		for _, q := range reads {
			plan := explain(t, db, q)
			t.Logf("search %-8q (%s, %d found):\n%s", c.search, c.what, total, plan)
			assert.Contains(t, plan, "_trgm_idx", "search %q: plan of %s", c.search, q)
			assert.NotContains(t, plan, "Seq Scan on users", "search %q: plan of %s", c.search, q)
		}
	}
}

// BenchmarkSearchPostgres times users/read with each search through the
// handler beside the same two statements run directly on the database, in
// one run: what the handler adds over its SQL.
func BenchmarkSearchPostgres(b *testing.B) {
	db := storagetest.Postgres(b)
	db, queries := storagetest.RecordQueries(db)
	reg := rpc.New(rpc.Options{Permissions: declared(), Auth: auth.NewMux(auth.MuxOptions{})})
	mod, err := users.Mount(context.Background(), reg, db, users.Options{RootPassword: rootPassword, Hasher: fastHasher()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = mod.Close(context.Background()) })
	seedUsers(b, db, 100_000)
	var signin struct {
		Token string `json:"token"`
	}
	rpctest.New(reg).Call(b, "/v1/session/signin", map[string]string{"username": "root", "password": rootPassword}).Decode(b, &signin)
	c := rpctest.New(reg).As(signin.Token)

	for _, sc := range searchCases {
		before := len(queries.All())
		c.Call(b, "/v1/admin/users/read", searchOptions(sc.search))
		reads := selectsOfUsers(queries.All()[before:])
		b.Run(sc.search+"/handler", func(b *testing.B) {
			for b.Loop() {
				if a := c.Call(b, "/v1/admin/users/read", searchOptions(sc.search)); a.Err() {
					b.Fatalf("search %q: %+v", sc.search, a)
				}
			}
		})
		b.Run(sc.search+"/sql", func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				for _, q := range reads {
					rows, err := db.QueryContext(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if err := rows.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func searchOptions(search string) map[string]any {
	return map[string]any{"where": map[string]any{"search": []string{"like", search}}}
}

// selectsOfUsers picks the statements that read the users table.
func selectsOfUsers(qs []string) []string {
	var out []string
	for _, q := range qs {
		if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "FROM users AS u") {
			out = append(out, q)
		}
	}
	return out
}

// explain answers PostgreSQL's plan for q, one node per line.
func explain(t testing.TB, db *bun.DB, q string) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN "+q)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		lines = append(lines, line)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}

// seedUsers inserts n users in one statement: names user_<hex> and u<i>,
// emails at three domains, a telegram name for every third.
func seedUsers(t testing.TB, db *bun.DB, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := db.ExecContext(ctx, `
INSERT INTO users (name, email, telegram_name, permissions, password_hash, created)
SELECT
	CASE WHEN i % 2 = 0 THEN 'user_' || substr(md5(i::text), 1, 10) ELSE 'u' || i END,
	(ARRAY['ivan.petrov', 'anna.smith', 'john', 'maria'])[1 + i % 4] || i || '@' ||
		(ARRAY['example.org', 'mail.example.com', 'corp.example.net'])[1 + i % 3],
	CASE WHEN i % 3 = 0 THEN 'tg_' || substr(md5((i * 7)::text), 1, 12) END,
	'{}', '', now() - make_interval(secs => i)
FROM generate_series(1, ?) AS i`, n)
	require.NoError(t, err)
	// VACUUM empties the GIN indexes' pending lists as autovacuum would:
	// straight after a bulk insert their unmerged entries make the planner
	// price the trigram indexes above a scan of the table.
	_, err = db.ExecContext(ctx, "VACUUM ANALYZE users")
	require.NoError(t, err)
	t.Logf("seeded %d users in %v", n, time.Since(start))
}
