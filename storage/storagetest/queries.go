package storagetest

import (
	"context"
	"regexp"
	"slices"
	"sync"

	"github.com/uptrace/bun"
)

// Queries records the text of every query a database runs, through bun or
// its ExecContext and QueryContext, for tests that check which tables a
// module's SQL names (under a table prefix, say). Get one with
// RecordQueries. It is safe for concurrent use.
type Queries struct {
	mu   sync.Mutex
	list []string
}

// RecordQueries starts recording the queries db runs from now on, until
// db is closed. Call it before db is shared with other goroutines: bun's
// hooks are not meant to be added while queries run.
func RecordQueries(db *bun.DB) *Queries {
	q := new(Queries)
	db.AddQueryHook(q)
	return q
}

// All returns the queries recorded so far, in the order they finished.
func (q *Queries) All() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.list)
}

// Naming returns the recorded queries that hold table as a word of its
// own: quoted or not, in a string literal too (a table named in text, as
// in sqlite_sequence or pg_indexes, counts), but not as part of a longer
// name (so "users" is not found in "app_users" or "users_created_idx").
func (q *Queries) Naming(table string) []string {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(table) + `($|[^A-Za-z0-9_])`)
	var out []string
	for _, s := range q.All() {
		if re.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

// BeforeQuery implements bun.QueryHook.
func (q *Queries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

// AfterQuery implements bun.QueryHook.
func (q *Queries) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	q.mu.Lock()
	q.list = append(q.list, e.Query)
	q.mu.Unlock()
}
