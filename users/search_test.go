package users_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// searchValues are the names, emails and telegram names of the users of
// TestSearchIsLike, written straight into the table as a host's own code
// or an older release may have: unicode in every script and case,
// characters LIKE treats specially, values of one and two characters, and
// NULLs.
var searchValues = [][3]any{
	{"ivan", "ivan.petrov@example.org", "ivan_tg"},
	{"IVAN_UPPER", "Ivan.Upper@Example.ORG", nil},
	{"ärger", "ÄRGER@beispiel.de", "Ärger"},
	{"straße", "strasse@beispiel.de", "STRASSE"},
	{"σίσυφος", "ΣΊΣΥΦΟΣ@example.gr", "σς"},
	{"i̇stanbul", "İstanbul@example.tr", "ıstanbul"},
	{"日本語テキスト", "テキスト@example.jp", nil},
	{"emoji😀x", "😀😀@example.com", "x😀"},
	{"a%b_c\\d", "per%cent@example.com", "under_score"},
	{`quote"d`, `"quoted"@example.com`, `""`},
	{"upper", "ÅNGSTRÖM@example.se", nil},
	{"x", nil, nil},
	{"ab", "ab@a.b", "ab"},
	{"abc", nil, "abcabc"},
	{"tab\tname", "nul@example.com", "new\nline"},
}

// searchTerms are the searches TestSearchIsLike tries: the substrings of
// one to four characters at the start, middle and end of every value, as
// they are and upper-cased, and strings built to trip
// an index: LIKE's wildcards and escape, FTS5's quotes and operators,
// folds that change a character's length.
func searchTerms() []string {
	terms := []string{"%", "_", "\\", `"`, `""`, `"""`, "%%", "a%b", "_c", "%cent", "c\\d", "b_c\\", "ß", "SS", "ss",
		"İ", "i̇", "ı", "I", "Σ", "ς", "σς", "ΣΣ", "AND", "OR", "NOT", "abc OR x", "ab*", "^ab", "NEAR(a b)", "ivan.petrov",
		"example", "EXAMPLE.ORG", "😀", "😀😀", "x😀", "nothing", "\t", "\n", "e\nl", " "}
	seen := map[string]bool{}
	for _, t := range terms {
		seen[t] = true
	}
	for _, row := range searchValues {
		for _, v := range row {
			s, ok := v.(string)
			if !ok {
				continue
			}
			r := []rune(s)
			for n := 1; n <= 4; n++ {
				for _, i := range []int{0, (len(r) - n) / 2, len(r) - n} {
					if i < 0 || i+n > len(r) {
						continue
					}
					for _, t := range []string{string(r[i : i+n]), strings.ToUpper(string(r[i : i+n]))} {
						if !seen[t] {
							seen[t] = true
							terms = append(terms, t)
						}
					}
				}
			}
		}
	}
	return terms
}

// A search finds exactly what LIKE over the three columns finds (with the
// search lower-cased, % and _ as themselves), for every search, through
// the trigram index or without it; and keeps doing so after users are
// renamed, given new emails and deleted, by the module or by hand. On
// SQLite, where the index is FTS5's, its integrity check against the users
// table passes after each change.
func TestSearchIsLike(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		e := newEnv(t, db)
		root := e.root(t)
		ctx := context.Background()
		for i, v := range searchValues {
			_, err := db.ExecContext(ctx, "INSERT INTO users (name, email, telegram_name, permissions, password_hash, created) VALUES (?, ?, ?, '{}', '', ?)",
				v[0], v[1], v[2], time.Now().Add(time.Duration(i)*time.Second))
			require.NoError(t, err)
		}
		ann := e.create(t, root, "ann", "ann-password", nil)
		terms := searchTerms()
		check := func(stage string, terms []string) {
			t.Helper()
			checkSearchIndex(t, db)
			found := 0
			for _, term := range terms {
				want := likeSearch(t, db, term)
				a := e.ok(t, root, "/v1/admin/users/read", searchOptions(term))
				var rows []userRec
				a.Decode(t, &rows)
				got := make([]string, len(rows))
				for i, r := range rows {
					got[i] = r.ID
				}
				require.Equal(t, want, got, "%s: search %q", stage, term)
				require.EqualValues(t, len(want), a.Meta["total"], "%s: search %q", stage, term)
				if len(want) > 0 && utf8.RuneCountInString(term) >= 3 {
					found++
				}
			}
			require.Greater(t, found, 30, "searches of three characters or more that find someone")
		}
		check("as inserted", terms)

		// Changes by the module...
		e.ok(t, root, "/v1/admin/users/set-username", ann.ID, "annabel")
		annTok := e.signin(t, "annabel", "ann-password")
		e.ok(t, annTok, "/v1/profile/set-email", "annabel@example.org")
		e.ok(t, annTok, "/v1/profile/set-telegram-username", "annabel_tg")
		// ...and by hand, beside changes of columns the index does not hold.
		for _, q := range []string{
			"UPDATE users SET name = 'ivan_renamed', telegram_name = NULL WHERE name = 'ivan'",
			"UPDATE users SET email = 'new@ärger.de' WHERE name = 'ärger'",
			"UPDATE users SET enabled = FALSE WHERE name = 'straße'",
			"DELETE FROM users WHERE name = 'abc'",
		} {
			_, err := db.ExecContext(ctx, q)
			require.NoError(t, err, q)
		}
		// What changed is in the index: the searches that go through it again.
		var indexed []string
		for _, term := range append(terms, "annabel", "renamed", "new@", "ärger.de", "_tg") {
			if utf8.RuneCountInString(term) >= 3 {
				indexed = append(indexed, term)
			}
		}
		check("after changes", indexed)
		e.ok(t, root, "/v1/admin/users/delete", "annabel")
		check("after a delete", indexed)
	})
}

// likeSearch is what the search for term finds with LIKE alone, as read
// matched before there was an index: the users' ids in id order.
func likeSearch(t *testing.T, db *bun.DB, term string) []string {
	t.Helper()
	p := "%" + storage.EscapeLike(strings.ToLower(term)) + "%"
	var ids []int64
	err := db.NewSelect().Table("users").Column("id").
		Where(`id <> 1 AND (name LIKE ? ESCAPE '\' OR email LIKE ? ESCAPE '\' OR telegram_name LIKE ? ESCAPE '\')`, p, p, p).
		OrderExpr("id").Scan(context.Background(), &ids)
	require.NoError(t, err)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

// checkSearchIndex runs FTS5's integrity check of the SQLite trigram index
// against the users table: it fails when the triggers left the index out
// of step.
func checkSearchIndex(t *testing.T, db *bun.DB) {
	t.Helper()
	if storage.IsPostgres(db) {
		return
	}
	_, err := db.ExecContext(context.Background(), "INSERT INTO users_search (users_search, rank) VALUES ('integrity-check', 1)")
	require.NoError(t, err, "the search index is out of step with users")
}

// Users stored before the SQLite trigram index existed are in it once the
// migration that makes it has run: a search finds them through it.
func TestSearchIndexHoldsEarlierUsers(t *testing.T) {
	t.Parallel()
	db, queries := storagetest.RecordQueries(storagetest.SQLite(t))
	ctx := context.Background()
	require.NoError(t, users.MigrateTo(ctx, db, 3))
	_, err := db.ExecContext(ctx, `INSERT INTO users (name, email, permissions, password_hash, created)
		VALUES ('earlier', 'earlier@example.org', '{}', '', ?), ('other', NULL, '{}', '', ?)`, time.Now(), time.Now())
	require.NoError(t, err)
	e := newEnv(t, db)
	checkSearchIndex(t, db)
	root := e.root(t)
	before := len(queries.All())
	a := e.ok(t, root, "/v1/admin/users/read", searchOptions("EARL"))
	var rows []userRec
	a.Decode(t, &rows)
	require.Len(t, rows, 1)
	require.Equal(t, "earlier", rows[0].Name)
	reads := selectsOfUsers(queries.All()[before:])
	require.NotEmpty(t, reads)
	require.Contains(t, reads[0], "users_search", "found through the index")
}
