package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/invopop/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
)

// Issue 8, item 3: read options and every string parameter are tried with
// SQL and LIKE metacharacters on both databases. Users and tokens are made
// whose names, emails and telegram names hold %, _, ', ", ;, --, /* and
// non-ASCII text; searches must return exactly the rows that contain the
// text literally, and hostile strings anywhere else get a 4xx or a literal
// result, leaving every table with the rows it had.

// injUsers are the users the searches run over (besides root, victim and
// plain1 of the fixture). Usernames are 3–32 of [a-z0-9_.@-] or an email
// address, so the odder characters go into emails and telegram names.
var injUsers = []string{
	`{"username":"a_b"}`,
	`{"username":"axb"}`,
	`{"username":"aab","email":"a%b@example.com"}`,
	`{"username":"pct%name@example.com"}`,
	`{"username":"quote","email":"o'brien@example.com","telegram_name":"tg_a_b"}`,
	`{"username":"comment","email":"c--d/*e*/@example.com"}`,
	`{"username":"unicode","email":"ünï@example.com"}`,
}

// allUserNames are the names users/read answers with no condition: every
// user but root.
var allUserNames = []string{hardVictim, hardPlain, "a_b", "axb", "aab", "pct%name@example.com", "quote", "comment", "unicode"}

// injTokens are the plain user's API tokens (besides its "plain token").
var injTokens = []string{"a_b", "axb", "a%b", `a\b`, "100%", "it's", `say "hi"`, "x; y", "-- comment", "/* c */", "ünïcödé ✓"}

// hostile are the strings tried in every string parameter. None of them is
// stored anywhere before, so none can name anything that exists.
var hostile = []string{
	`' OR '1'='1`,
	`1; DROP TABLE users; --`,
	`%`,
	`_`,
	`___`, // a valid user name that a LIKE lookup would match with any 3-letter name
	`\`,
	"a\x00b",
	"\xff\xfe", // not UTF-8: sent as raw bytes, see hostileJSON
}

// hostileJSON encodes a hostile string as a JSON string; invalid UTF-8 goes
// in as raw bytes (json.Marshal would replace them), as a client could send it.
func hostileJSON(s string) json.RawMessage {
	if !utf8.ValidString(s) {
		return json.RawMessage(`"` + s + `"`)
	}
	return raw(s)
}

func TestInjection(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		f := newFixture(t, a)
		for _, u := range injUsers {
			r := a.call(t, f.root.token, "/v1/admin/users/create", "["+u+"]")
			require.Equal(t, 200, r.HTTP, r.Raw)
		}
		for _, name := range injTokens {
			r := a.call(t, f.plain.token, "/v1/api-tokens/create", string(params(raw(name))))
			require.Equal(t, 200, r.HTTP, r.Raw)
		}
		// Root has tokens of the same names: the plain user must never see them.
		for _, name := range []string{"a_b", "a%b"} {
			r := a.call(t, f.root.token, "/v1/api-tokens/create", string(params(raw(name))))
			require.Equal(t, 200, r.HTTP, r.Raw)
		}
		// Calls for the call log to hold rows of: three of /v1/test/test.
		for range 3 {
			require.Equal(t, 200, a.call(t, "", "/v1/test/test", `["hi"]`).HTTP)
		}
		before := snapshot(t, a.db)

		t.Run("users read", func(t *testing.T) { injUsersRead(t, a, f) })
		t.Run("users suggest", func(t *testing.T) { injSuggest(t, a, f) })
		t.Run("tokens read", func(t *testing.T) { injTokensRead(t, a, f) })
		t.Run("call log", func(t *testing.T) { injCallLog(t, a, f) })
		t.Run("read options", func(t *testing.T) { injReadOptions(t, a, f) })
		t.Run("string parameters", func(t *testing.T) {
			// What the walk stores on purpose it puts back: the victim's
			// password hash and the settings rows, as they are now.
			require.NoError(t, a.db.NewSelect().Table("users").Column("password_hash", "signin_addrs", "signin_devices").Where("id = ?", f.victimID).Scan(t.Context(), &f.victimHash, &f.victimAddrs, &f.victimDevices))
			require.NoError(t, a.db.NewSelect().Model(&f.settings).Scan(t.Context()))
			injStrings(t, a, f)
		})

		after := snapshot(t, a.db)
		// The walk creates and deletes users and tokens on purpose (a
		// hostile token name is a name like any other), and ids are not
		// reused: SQLite's AUTOINCREMENT counters move on.
		delete(before, "sqlite_sequence")
		delete(after, "sqlite_sequence")
		assert.Equal(t, slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)), "the same tables")
		for table, rows := range before {
			assert.Equal(t, rows, after[table], "table %s changed", table)
		}
	})
}

// names reads the name of each row of a successful read.
func names(t *testing.T, r reply) []string {
	t.Helper()
	require.NotNil(t, r.Result, r.Raw)
	var rows []struct {
		Name string `json:"name"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &rows), r.Raw)
	out := make([]string, len(rows))
	for i, row := range rows {
		out[i] = row.Name
	}
	return out
}

func refused(t *testing.T, r reply, what string) {
	t.Helper()
	require.NotNil(t, r.Error, "%s: %s", what, r.Raw)
	assert.GreaterOrEqual(t, r.HTTP, 400, "%s: %s", what, r.Raw)
	assert.Less(t, r.HTTP, 500, "%s: %s", what, r.Raw)
	assert.False(t, r.Error.Data.Exception, "%s: %s", what, r.Raw)
}

// /v1/admin/users/read: search matches name, email and telegram name
// literally and case-insensitively; id takes an id only; order_by a field.
func injUsersRead(t *testing.T, a *testApp, f *fixture) {
	for _, c := range []struct {
		like string
		want []string
	}{
		{"a_b", []string{"a_b", "quote"}}, // quote's telegram name is tg_a_b; not axb, nor aab
		{"A_B", []string{"a_b", "quote"}},
		{"axb", []string{"axb"}},
		{"_", []string{"a_b", "quote"}},
		{"___", nil},
		{"%", []string{"aab", "pct%name@example.com"}},
		{"a%b", []string{"aab"}},
		{"%%", nil},
		{"%_%", nil},
		{`\`, nil},
		{`\%`, nil},
		{"'", []string{"quote"}},
		{"' OR '1'='1", nil},
		{"o'brien", []string{"quote"}},
		{`"`, nil},
		{";", nil},
		{"--", []string{"comment"}},
		{"/*", []string{"comment"}},
		{"*/", []string{"comment"}},
		{"ünï", []string{"unicode"}},
		{"@example.com", []string{hardVictim, "aab", "pct%name@example.com", "quote", "comment", "unicode"}},
		{"", allUserNames},
	} {
		body := string(params(raw(map[string]any{"where": map[string]any{"search": []any{"like", c.like}}})))
		r := a.call(t, f.root.token, "/v1/admin/users/read", body)
		require.Equal(t, 200, r.HTTP, "%q: %s", c.like, r.Raw)
		assert.ElementsMatch(t, c.want, names(t, r), "search like %q", c.like)
		assert.Equal(t, float64(len(c.want)), r.Result.Meta["total"], "search like %q", c.like)
	}

	r := a.call(t, f.root.token, "/v1/admin/users/read", `[{"where":{"id":`+string(raw(f.victimID))+`}}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	assert.Equal(t, []string{hardVictim}, names(t, r))
	r = a.call(t, f.root.token, "/v1/admin/users/read", `[{"where":{"id":"1"}}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	assert.Empty(t, names(t, r), "root is never listed")

	for _, body := range []string{
		`[{"where":{"id":"1 OR 1=1"}}]`,
		`[{"where":{"id":["=","100 OR 1=1"]}}]`,
		`[{"where":{"id":"100; DROP TABLE users"}}]`,
		`[{"where":{"id":["in",["100","1 OR 1=1"]]}}]`,
		`[{"where":{"search":"a_b"}}]`, // search takes like only
		`[{"where":{"search":["like","a\u0000b"]}}]`,
		`[{"where":{"name":"a_b"}}]`, // name sorts, it does not filter
		`[{"where":{"name; DROP TABLE users":"x"}}]`,
		`[{"order_by":"name; DROP TABLE users"}]`,
		`[{"order_by":["name","desc; --"]}]`,
		`[{"order_by":[["name","desc; --"]]}]`,
		`[{"order_by":"(SELECT 1)"}]`,
		`[{"limit":"1; --"}]`,
		`[{"offset":"0 UNION SELECT 1"}]`,
	} {
		r := a.call(t, f.root.token, "/v1/admin/users/read", body)
		refused(t, r, body)
		assert.Equal(t, rpc.CodeInvalidParams, r.code(), "%s: %s", body, r.Raw)
		assert.Contains(t, r.Error.Message, `parameter 1 "options"`, body)
	}

	// A legitimate order over the same users: all of them, each once.
	r = a.call(t, f.root.token, "/v1/admin/users/read", `[{"order_by":[["name","desc"]]}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	assert.ElementsMatch(t, allUserNames, names(t, r))
}

// /v1/admin/users/suggest: names only, literally.
func injSuggest(t *testing.T, a *testApp, f *fixture) {
	for _, c := range []struct {
		like string
		want []string
	}{
		{"a_b", []string{"a_b"}},
		{"A_B", []string{"a_b"}},
		{"_", []string{"a_b"}},
		{"___", nil},
		{"%", []string{"pct%name@example.com"}},
		{"a%b", nil}, // aab's email is not its name
		{"%a%", nil},
		{`\`, nil},
		{"'", nil},
		{"' OR '1'='1", nil},
		{"1; DROP TABLE users; --", nil},
		{"ab", []string{"aab"}}, // a_b does not contain "ab"
		{"", allUserNames},
	} {
		body := string(params(raw(map[string]any{"where": map[string]any{"name": []any{"like", c.like}}})))
		r := a.call(t, f.root.token, "/v1/admin/users/suggest", body)
		require.Equal(t, 200, r.HTTP, "%q: %s", c.like, r.Raw)
		var got []string
		require.NoError(t, json.Unmarshal(r.Result.Data, &got))
		assert.ElementsMatch(t, c.want, got, "suggest like %q", c.like)
	}
	for _, body := range []string{
		`[{"where":{"name":["like","a\u0000b"]}}]`,
		`[{"where":{"name":["= 1 OR 1=1","a"]}}]`,
		`[{"where":{"name":["like","a"],"1=1":1}}]`,
	} {
		refused(t, a.call(t, f.root.token, "/v1/admin/users/suggest", body), body)
	}
}

// /v1/api-tokens/read: the caller's own tokens, name by = or like, literally.
func injTokensRead(t *testing.T, a *testApp, f *fixture) {
	read := func(c caller, where any) reply {
		t.Helper()
		r := a.call(t, c.token, "/v1/api-tokens/read", string(params(raw(map[string]any{"where": where}))))
		require.Equal(t, 200, r.HTTP, r.Raw)
		return r
	}
	all := append([]string{"plain token"}, injTokens...)
	for _, c := range []struct {
		like string
		want []string
	}{
		{"a_b", []string{"a_b"}},
		{"A_B", []string{"a_b"}},
		{"_", []string{"a_b"}},
		{"%", []string{"a%b", "100%"}},
		{"a%b", []string{"a%b"}},
		{`\`, []string{`a\b`}},
		{`a\b`, []string{`a\b`}},
		{"'", []string{"it's"}},
		{"' OR '1'='1", nil},
		{`"`, []string{`say "hi"`}},
		{";", []string{"x; y"}},
		{"--", []string{"-- comment"}},
		{"/*", []string{"/* c */"}},
		{"ünï", []string{"ünïcödé ✓"}},
		{"✓", []string{"ünïcödé ✓"}},
		{"axb", []string{"axb"}},
		{"", all},
	} {
		r := read(f.plain, map[string]any{"name": []any{"like", c.like}})
		assert.ElementsMatch(t, c.want, names(t, r), "name like %q", c.like)
		assert.Equal(t, float64(len(c.want)), r.Result.Meta["total"], "name like %q", c.like)
	}
	for _, c := range []struct {
		eq   string
		want []string
	}{
		{"a_b", []string{"a_b"}},
		{"a%b", []string{"a%b"}},
		{`a\b`, []string{`a\b`}},
		{"%", nil},
		{"_", nil},
		{"a_%", nil},
		{"' OR '1'='1", nil},
		{"it's", []string{"it's"}},
	} {
		assert.ElementsMatch(t, c.want, names(t, read(f.plain, map[string]any{"name": c.eq})), "name = %q", c.eq)
		assert.ElementsMatch(t, c.want, names(t, read(f.plain, map[string]any{"name": []any{"=", c.eq}})), "name = %q", c.eq)
	}
	// Root's tokens of the same names are root's alone, and the other way round.
	r := read(f.root, map[string]any{"name": []any{"like", "a"}})
	assert.ElementsMatch(t, []string{"a_b", "a%b"}, names(t, r))
	r = read(f.root, map[string]any{"name": []any{"like", "_"}})
	assert.ElementsMatch(t, []string{"a_b"}, names(t, r))

	for _, body := range []string{
		`[{"where":{"id":"1 OR 1=1"}}]`,
		`[{"where":{"id":["=","1; DROP TABLE api_tokens"]}}]`,
		`[{"where":{"name":["like","a\u0000b"]}}]`,
		`[{"where":{"name":["in",["a_b"]]}}]`,
		`[{"where":{"user_id":"1"}}]`, // nobody reads others' tokens by naming the owner
		`[{"order_by":"name; DROP TABLE api_tokens"}]`,
		`[{"order_by":["name","desc; --"]}]`,
	} {
		r := a.call(t, f.plain.token, "/v1/api-tokens/read", body)
		refused(t, r, body)
		assert.Equal(t, rpc.CodeInvalidParams, r.code(), "%s: %s", body, r.Raw)
	}
}

// The call log: rows of the one method named, never of others.
func injCallLog(t *testing.T, a *testApp, f *fixture) {
	readLog := func(where string) reply {
		t.Helper()
		return a.call(t, f.root.token, "/v1/admin/api-call-log/read-log", `[{"where":{"method_id":`+where+`}}]`)
	}
	var rows []struct {
		MethodID string `json:"method_id"`
	}
	require.Eventually(t, func() bool {
		r := readLog(`"/v1/test/test"`)
		return r.HTTP == 200 && json.Unmarshal(r.Result.Data, &rows) == nil && len(rows) == 3
	}, 10*time.Second, 50*time.Millisecond, "the three calls of /v1/test/test are logged")
	for _, row := range rows {
		assert.Equal(t, "/v1/test/test", row.MethodID)
	}

	for _, id := range []string{
		`' OR '1'='1`, `/v1/test/test' OR '1'='1`, `/v1/test/test'; --`, `%`, `/v1/test/%`, `/v1/test/tes_`,
		`_v1_test_test`, `/V1/TEST/TEST`, `1; DROP TABLE calllog_calls; --`, `\`,
	} {
		r := readLog(string(raw(id)))
		refused(t, r, id)
		assert.Equal(t, 404, r.code(), "%q: %s", id, r.Raw)
		for _, m := range []string{"read-latest-stat", "read-history-stat"} {
			r := a.call(t, f.root.token, "/v1/admin/api-call-log/"+m, string(params(raw(id))))
			refused(t, r, m+" "+id)
			assert.Equal(t, 404, r.code(), "%s %q: %s", m, id, r.Raw)
		}
	}
	for _, where := range []string{`["like","%"]`, `["!=","x"]`, `["in",["/v1/test/test"]]`, `"a\u0000b"`, `null`, `5`} {
		r := readLog(where)
		refused(t, r, where)
		assert.Equal(t, rpc.CodeInvalidParams, r.code(), "%s: %s", where, r.Raw)
	}
}

// Every string field of every read method's options, with each hostile
// string: "=" finds nothing (none is stored), like finds only rows that
// hold the text literally, whatever the method (read-log answers 404 for a
// method that does not exist).
func injReadOptions(t *testing.T, a *testApp, f *fixture) {
	n := 0
	for _, m := range a.reg.Methods() {
		for i, p := range m.Params {
			if p.Read == nil {
				continue
			}
			for _, fd := range p.Read.Fields {
				if fd.Type != "" && fd.Type != read.String {
					continue
				}
				for _, op := range fd.Conditions {
					if op != "=" && op != "like" {
						continue
					}
					for _, s := range hostile {
						for _, c := range callersOf(f, m) {
							base := f.base(m, c)
							opts := map[string]json.RawMessage{}
							for _, other := range p.Read.Fields {
								if other.Required && other.Name != fd.Name {
									opts[other.Name] = f.readSample(other, c)
								}
							}
							opts[fd.Name] = params(raw(op), hostileJSON(s))
							body := with(base, i, raw(map[string]any{"where": opts}))
							r, err := a.post(c, m.ID, body)
							require.NoError(t, err)
							n++
							what := fmt.Sprintf("%s as %s: where %s %s %q: %s", m.ID, c.name, fd.Name, op, s, trim(r.Raw, 300))
							if r.Error != nil {
								refused(t, r, what)
								continue
							}
							literal := strings.ToLower(decodeString(t, hostileJSON(s)))
							var rows []map[string]any
							require.NoError(t, json.Unmarshal(r.Result.Data, &rows), what)
							for _, row := range rows {
								assert.True(t, op == "like" && rowHolds(row, literal), "a row that does not hold the text: %v: %s", row, what)
							}
						}
					}
				}
			}
		}
	}
	require.NotZero(t, n, "some read method has a string field")
}

// rowHolds reports whether some string value of row contains s, case-folded.
func rowHolds(row map[string]any, s string) bool {
	for _, v := range row {
		if str, ok := v.(string); ok && strings.Contains(strings.ToLower(str), s) {
			return true
		}
	}
	return false
}

func decodeString(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(v, &s))
	return s
}

// callersOf lists who calls m in the string walk: root, the plain user for
// user methods, and a guest for methods everyone may call.
func callersOf(f *fixture, m rpc.MethodInfo) []caller {
	allowed, guest := f.callers(m.Permissions)
	if guest {
		allowed = append(allowed, f.guest)
	}
	return allowed
}

func (a *testApp) post(c caller, method string, body []byte) (reply, error) {
	return a.serve(c, method, badCase{body: body})
}

// stringSpot is a place in a method's parameters that takes a string: a
// parameter, a property of an object parameter, or an item of an array.
type stringSpot struct {
	param int    // 0-based
	key   string // the property, or ""
	item  bool   // an item of an array parameter
	what  string
}

func stringSpots(m rpc.MethodInfo) []stringSpot {
	var out []stringSpot
	for i, p := range m.Params {
		label := fmt.Sprintf("parameter %d %q", i+1, p.Name)
		if p.Read != nil || acceptedTypes(p.Schema) == nil {
			continue
		}
		if accepts(p.Schema, "string") {
			out = append(out, stringSpot{param: i, what: label})
		}
		if accepts(p.Schema, "object") && p.Schema.Properties != nil {
			for pr := p.Schema.Properties.Oldest(); pr != nil; pr = pr.Next() {
				if acceptedTypes(pr.Value) != nil && accepts(pr.Value, "string") {
					out = append(out, stringSpot{param: i, key: pr.Key, what: label + " property " + pr.Key})
				}
			}
		}
		if items := arrayItems(p.Schema); items != nil && acceptedTypes(items) != nil && accepts(items, "string") {
			out = append(out, stringSpot{param: i, item: true, what: label + " item"})
		}
	}
	return out
}

// arrayItems returns the item schema of an array schema, or of an array
// alternative of anyOf.
func arrayItems(s *jsonschema.Schema) *jsonschema.Schema {
	if s.Type == "array" {
		return s.Items
	}
	for _, alt := range s.AnyOf {
		if alt.Type == "array" {
			return alt.Items
		}
	}
	return nil
}

// place puts v at the spot, the parameters before it and the required
// properties beside it at their base values; the optional parameters after
// it are left out, so that v meets the handler's checks before theirs do.
func (f *fixture) place(m rpc.MethodInfo, c caller, sp stringSpot, v json.RawMessage) []byte {
	base := f.base(m, c)
	n := len(base)
	for n > sp.param+1 && m.Params[n-1].Optional {
		n--
	}
	base = base[:n]
	switch {
	case sp.key != "":
		obj := map[string]json.RawMessage{}
		for _, name := range requiredProps(m.Params[sp.param].Schema) {
			ps, _ := m.Params[sp.param].Schema.Properties.Get(name)
			obj[name] = f.sample(name, ps, c)
		}
		obj[sp.key] = v
		return with(base, sp.param, raw(obj))
	case sp.item:
		return with(base, sp.param, params(v))
	}
	return with(base, sp.param, v)
}

// injStrings sends every hostile string to every string spot of every
// method, as each caller that may call it and as a guest. Each answer is a
// 4xx, or a success that injAccepted expects and checks literally (and
// undoes, so that the tables hold their rows at the end).
func injStrings(t *testing.T, a *testApp, f *fixture) {
	methods := a.reg.Methods()
	require.NotEmpty(t, methods)
	spots := 0
	accepted := map[string]int{} // successes by method, for the log
	for _, m := range methods {
		for _, sp := range stringSpots(m) {
			spots++
			// The guest too where guests may not call: they are refused first.
			allowed, _ := f.callers(m.Permissions)
			for _, c := range append(allowed, f.guest) {
				for _, s := range hostile {
					v := hostileJSON(s)
					r, err := a.post(c, m.ID, f.place(m, c, sp, v))
					what := fmt.Sprintf("%s as %s: %s = %q: %s", m.ID, c.name, sp.what, s, trim(r.Raw, 300))
					require.NoError(t, err, what)
					if r.Error != nil {
						refused(t, r, what)
						continue
					}
					injAccepted(t, a, f, m.ID, sp, c, v, r, what)
					accepted[m.ID]++
				}
			}
		}
	}
	t.Logf("%d methods, %d string spots, %d hostile strings; literal successes: %v", len(methods), spots, len(hostile), accepted)
}

// injAccepted checks a success of a hostile string: the methods for which
// it is a legitimate value store or answer it literally; any other success
// fails the test. What was stored is undone.
func injAccepted(t *testing.T, a *testApp, f *fixture, method string, sp stringSpot, c caller, v json.RawMessage, r reply, what string) {
	t.Helper()
	s := decodeString(t, v) // as the server decodes it: invalid UTF-8 replaced
	switch {
	case method == "/v1/test/test":
		// The echo answers what it was given.
		assert.Equal(t, string(raw(s)), string(r.Result.Data), what)

	case method == "/v1/test/publish":
		// Any printable text is an event name or a group: the event goes to
		// the sockets (of that group, if any), and nothing is stored, which
		// the tables' comparison at the end holds.
		assert.Empty(t, r.Result.Data, what)
		assert.NotContains(t, s, "\x00", what)

	case method == "/v1/api-tokens/create":
		// Any printable text is a token name: stored as it is.
		var tok struct{ ID, Name string }
		require.NoError(t, json.Unmarshal(r.Result.Data, &tok), what)
		assert.Equal(t, s, tok.Name, what)
		list := a.call(t, c.token, "/v1/api-tokens/read", string(params(raw(map[string]any{"where": map[string]any{"name": s}}))))
		assert.Equal(t, []string{s}, names(t, list), what)
		require.Equal(t, 200, a.call(t, c.token, "/v1/api-tokens/delete", string(params(raw(tok.ID)))).HTTP, what)

	case (method == "/v1/admin/users/create" || method == "/v1/session/signup") && sp.key == "username",
		method == "/v1/admin/users/set-username" && sp.param == 1:
		// "___" is a valid user name; the others never are.
		require.Equal(t, "___", s, what)
		list := a.call(t, f.root.token, "/v1/admin/users/read", `[{"where":{"search":["like","___"]}}]`)
		assert.Equal(t, []string{"___"}, names(t, list), what)
		if method == "/v1/admin/users/set-username" {
			require.Equal(t, 200, a.call(t, f.root.token, method, `["___",`+string(raw(hardVictim))+`]`).HTTP, what)
		} else {
			require.Equal(t, 200, a.call(t, f.root.token, "/v1/admin/users/delete", `["___"]`).HTTP, what)
		}

	case method == "/v1/admin/users/set-password" && sp.param == 1,
		method == "/v1/admin/users/set-username" && sp.param == 2:
		// A long enough hostile string is a password: the victim signs in with it.
		signin := a.call(t, "", "/v1/session/signin", string(params(raw(map[string]string{"username": hardVictim, "password": s}))))
		require.Equal(t, 200, signin.HTTP, what)
		var ses struct{ Token string }
		require.NoError(t, json.Unmarshal(signin.Result.Data, &ses))
		require.Equal(t, 200, a.call(t, ses.Token, "/v1/session/signout", ``).HTTP)
		// Put the old password back as it was stored, salt and all, and
		// the addresses and devices it signed in from.
		_, err := a.db.NewUpdate().Table("users").Set("password_hash = ?", f.victimHash).Set("signin_addrs = ?", f.victimAddrs).Set("signin_devices = ?", f.victimDevices).
			Where("id = ?", f.victimID).Exec(t.Context())
		require.NoError(t, err)

	case method == "/v1/admin/settings/update" && slices.Contains([]string{"smtp_username", "smtp_password", "smtp_hostname"}, sp.key):
		// The SMTP account and password may hold any text without control
		// characters; a host name may hold underscores ("_" and "___").
		var got map[string]any
		require.NoError(t, json.Unmarshal(r.Result.Data, &got), what)
		if sp.key == "smtp_password" {
			assert.Equal(t, true, got["smtp_password_set"], what)
			assert.NotContains(t, r.Raw, string(raw(s)), "the password is never answered")
		} else {
			assert.Equal(t, s, got[sp.key], what)
		}
		// Back to empty through the API (for the module's cache), then the
		// rows as they were (the update stored a row with "").
		require.Equal(t, 200, a.call(t, f.root.token, method, `[{"`+sp.key+`":""}]`).HTTP, what)
		ctx := t.Context()
		_, err := a.db.NewDelete().Model((*settingRow)(nil)).Where("1 = 1").Exec(ctx)
		require.NoError(t, err)
		if len(f.settings) > 0 {
			_, err = a.db.NewInsert().Model(&f.settings).Exec(ctx)
			require.NoError(t, err)
		}

	default:
		assert.Fail(t, "a hostile string succeeded where it has no business to", what)
	}
}

// settingRow is a row of the settings module's table, which injStrings
// puts back after it stored hostile SMTP credentials on purpose.
type settingRow struct {
	bun.BaseModel `bun:"table:authrpc_settings"`

	Name      string    `bun:"name,pk"`
	Value     string    `bun:"value,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}
