package users

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// minTrigramSearch is the shortest search, in characters, that a trigram
// index can find: a shorter one holds no trigram.
const minTrigramSearch = 3

// maxIndexedMatches is how many users the trigram index may find for a
// search that read then reaches through it, on SQLite. Past it, reaching
// each row through the index costs more than reading the table: the page
// (in id order) is then found by reading the table from the start, which
// stops after a few hundred rows when so many match, and the count by one
// scan of it.
const maxIndexedMatches = 1000

// userSearch is a search of users/read: LIKE's pattern, and on SQLite the
// FTS5 query of the trigram index when the search goes through it.
type userSearch struct {
	fts    bun.Ident
	like   string
	phrase string // "": LIKE alone
}

// searchFor prepares the search for search, lower-cased by takeSearch. On
// SQLite a search of three characters or more asks the trigram index
// (migration 5's users_search) first how many users it finds, up to
// maxIndexedMatches: a selective search then reads only those. PostgreSQL
// plans the same LIKE with its own trigram indexes.
func (m *Module) searchFor(ctx context.Context, search string) (userSearch, error) {
	s := userSearch{fts: bun.Ident(m.tables.prefix + "users_search"), like: "%" + storage.EscapeLike(search) + "%"}
	phrase, ok := trigramPhrase(search)
	if !ok || storage.IsPostgres(m.db) {
		return s, nil
	}
	var n int
	err := m.db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM ? WHERE ? MATCH ? LIMIT ?)",
		s.fts, s.fts, phrase, maxIndexedMatches).Scan(&n)
	if err != nil {
		return s, fmt.Errorf("search index: %w", err)
	}
	if n < maxIndexedMatches {
		s.phrase = phrase
	}
	return s, nil
}

// where narrows q to the users whose name, email or telegram name holds
// the search as a substring, % and _ included, with LIKE; through the
// trigram index first, when s has its query, so that neither the page nor
// its count reads the whole table. The index never finds fewer users than
// LIKE, and LIKE checks each one it finds: the answer is LIKE's to the row.
func (s userSearch) where(q *bun.SelectQuery) *bun.SelectQuery {
	if s.phrase != "" {
		q = q.Where("u.id IN (SELECT rowid FROM ? WHERE ? MATCH ?)", s.fts, s.fts, s.phrase)
	}
	return q.Where(`(u.name LIKE ? ESCAPE '\' OR u.email LIKE ? ESCAPE '\' OR u.telegram_name LIKE ? ESCAPE '\')`, s.like, s.like, s.like)
}

// trigramPhrase is search as an FTS5 query of the trigram tokenizer: one
// phrase, quoted, which matches the rows holding it as a substring. A
// search shorter than minTrigramSearch characters has none (FTS5 matches no
// row with it), nor one holding NUL, which SQLite's text would cut short.
func trigramPhrase(search string) (string, bool) {
	if utf8.RuneCountInString(search) < minTrigramSearch || strings.IndexByte(search, 0) >= 0 {
		return "", false
	}
	return `"` + strings.ReplaceAll(search, `"`, `""`) + `"`, true
}
