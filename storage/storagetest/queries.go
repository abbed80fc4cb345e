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

// RecordQueries returns a copy of db that records the queries run through
// it (and its transactions) from now on, and the record. db itself records
// nothing: hand the copy to the modules whose SQL the test checks.
func RecordQueries(db *bun.DB) (*bun.DB, *Queries) {
	q := new(Queries)
	return db.WithQueryHook(q), q
}

// All returns the queries recorded so far, in the order they finished.
func (q *Queries) All() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.list)
}

// Naming returns the recorded queries that name table as an identifier:
// quoted or not, but not as part of a longer name (so "users" is not found
// in "app_users" or "users_created_idx") and not inside a string literal
// (a value such as a migration's name 'create users').
func (q *Queries) Naming(table string) []string {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(table) + `($|[^A-Za-z0-9_])`)
	var out []string
	for _, s := range q.All() {
		if re.MatchString(stringLiteral.ReplaceAllString(s, "''")) {
			out = append(out, s)
		}
	}
	return out
}

// stringLiteral matches an SQL string literal, in which a doubled quote
// stands for one.
var stringLiteral = regexp.MustCompile(`'(?:[^']|'')*'`)

// BeforeQuery implements bun.QueryHook.
func (q *Queries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

// AfterQuery implements bun.QueryHook.
func (q *Queries) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	q.mu.Lock()
	q.list = append(q.list, e.Query)
	q.mu.Unlock()
}
