package main

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage"
)

// Issue 8, item 1: every registered method of the example app is sent bad
// input generated from its reflected schema (wrong types, missing, null and
// extra parameters, huge strings, deep nesting, malformed JSON, oversized
// bodies, bad properties, bad read options), as a guest and as callers who
// may call it. Every answer is a 4xx with a message, never a 5xx or a
// panic, and the database holds the same rows afterwards.

// The walk's callers: the victim is the user that user_id, username and
// new_username name in the parameters the walk is not attacking, so that
// the attacked one gets as far into the handler as it can.
const (
	hardVictim     = "victim"
	hardVictimPass = "victim-password"
	hardPlain      = "plain1"
	hardPlainPass  = "plain1-password"
	rootPassword   = "root-password-for-tests"
)

// caller is who sends a call: a guest (no token) or the holder of a session.
type caller struct {
	name    string
	token   string // a session token; "" for a guest
	tokenID string // the id of an API token the caller owns: its token_id
}

// fixture is the state the walks start from.
type fixture struct {
	root, plain, guest caller
	victimID           string

	// Kept by the injection walk to put back what it stores on purpose.
	victimHash string
	// victimAddrs are the victim's sign-in addresses (users.signin_addrs)
	// as stored, which its sign-ins in the walk change.
	victimAddrs string
	// victimDevices are its devices seen at sign-in (users.signin_devices),
	// which the walk's sign-ins change too.
	victimDevices string
	settings      []settingRow
}

// newFixture opens signup, creates the victim and a plain user, signs root
// and the plain user in and gives each an API token.
func newFixture(t *testing.T, a *testApp) *fixture {
	t.Helper()
	f := &fixture{guest: caller{name: "guest"}}
	f.root = caller{name: "root", token: a.signin(t, "root", rootPassword)}
	// Signup is closed by default; open, it is walked like every method.
	r := a.call(t, f.root.token, "/v1/admin/settings/update", `[{"signup_enabled":true}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	for _, body := range []string{
		`[{"username":"` + hardVictim + `","password":"` + hardVictimPass + `","email":"victim@example.com"}]`,
		`[{"username":"` + hardPlain + `","password":"` + hardPlainPass + `"}]`,
	} {
		r := a.call(t, f.root.token, "/v1/admin/users/create", body)
		require.Equal(t, 200, r.HTTP, r.Raw)
		if f.victimID == "" {
			var u struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(r.Result.Data, &u))
			f.victimID = u.ID
		}
	}
	f.plain = caller{name: "plain", token: a.signin(t, hardPlain, hardPlainPass)}
	// Both sessions authorize, so that the walk reaches the parameters of
	// methods that require a recent authorization.
	for _, c := range []struct{ token, password string }{{f.root.token, rootPassword}, {f.plain.token, hardPlainPass}} {
		r := a.call(t, c.token, "/v1/session/authorize", `[{"password":"`+c.password+`"}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
	}
	for _, c := range []*caller{&f.root, &f.plain} {
		r := a.call(t, c.token, "/v1/api-tokens/create", `["`+c.name+` token"]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		var tok struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(r.Result.Data, &tok))
		c.tokenID = tok.ID
	}
	f.guest.tokenID = f.plain.tokenID
	return f
}

// callers returns who may call a method with these permission tags (root
// always; the plain user too for auth.User and auth.Anyone methods), and
// whether a guest may.
func (f *fixture) callers(perms []string) (allowed []caller, guest bool) {
	allowed = []caller{f.root}
	if slices.Contains(perms, auth.User) || slices.Contains(perms, auth.Anyone) {
		allowed = append(allowed, f.plain)
	}
	return allowed, slices.Contains(perms, auth.Anyone) || slices.Contains(perms, auth.Guest)
}

// addrs numbers the client addresses the walks call from: each call comes
// from an address of its own, so that the per-address limits (sign-in,
// sign-up, mail) do not turn the answers under test into 429s.
var addrs atomic.Uint32

func nextAddr() string {
	n := addrs.Add(1)
	return fmt.Sprintf("10.%d.%d.%d:4242", byte(n>>16), byte(n>>8), byte(n))
}

// serve sends one request through the app's http.Handler, as the HTTP
// server would, from a fresh client address. A panic that escapes the
// handler is returned as an error rather than taking the test binary down.
func (a *testApp) serve(c caller, method string, bc badCase) (r reply, err error) {
	verb := bc.httpMethod
	if verb == "" {
		verb = http.MethodPost
	}
	req := httptest.NewRequest(verb, "/api"+method+bc.query, bytes.NewReader(bc.body))
	req.RemoteAddr = nextAddr()
	if bc.void {
		req.Header.Set("X-API-Void-Call", "true")
	}
	ct := bc.contentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if bc.unsized {
		req.ContentLength = -1 // as a chunked request: the length is not known up front
	}
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	a.Handler().ServeHTTP(rec, req)
	r = reply{HTTP: rec.Code, Raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		return r, fmt.Errorf("content type %q", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		return r, fmt.Errorf("answer is not JSON: %w", err)
	}
	if (r.Error == nil) == (r.Result == nil) {
		return r, fmt.Errorf("answer has neither or both of result and error")
	}
	return r, nil
}

// --- The database's contents ---

// snapshot returns every table's rows, each rendered as text, sorted, so
// that two snapshots compare equal exactly when the tables hold the same
// rows. Left out, because they change on every call by design:
//   - the call log's tables (calllog_*): every call of the walk is logged,
//     and the writer and the aggregator fill them in the background;
//   - SQLite's AUTOINCREMENT counters of those tables (sqlite_sequence rows
//     naming calllog_*), which move with them.
//   - the rate-limit buckets (authrpc_rate_limits): every sign-in, sign-up
//     and mail request counts, whatever its outcome;
//   - the events too big for a NOTIFY (authrpc_sync_payloads), messages in
//     flight between instances that /v1/test/publish sends on purpose.
//
// The walks take their snapshot after their own sign-ins, so the sessions
// they opened are in both.
func snapshot(t *testing.T, db *bun.DB) map[string][]string {
	t.Helper()
	ctx := t.Context()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if storage.IsPostgres(db) {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	require.NoError(t, db.NewRaw(q).Scan(ctx, &tables))
	out := make(map[string][]string, len(tables))
	for _, table := range tables {
		if strings.HasPrefix(table, "calllog_") || table == "authrpc_rate_limits" || table == "authrpc_sync_payloads" {
			continue
		}
		if table == "authrpc_audit" {
			// The trail grows with every change, the walks' deliberate
			// ones (and their undoing) too; what it holds is
			// TestAuditTrailOfAScriptedSession's to check.
			continue
		}
		if strings.HasPrefix(table, "users_search_") {
			// FTS5's storage of SQLite's search index: its bytes change with
			// every write to users, even one undone. Whether the index holds
			// what users does is its integrity check's to say.
			_, err := db.ExecContext(ctx, "INSERT INTO users_search (users_search, rank) VALUES ('integrity-check', 1)")
			require.NoError(t, err, "the search index is out of step with users")
			continue
		}
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		require.NoError(t, err, table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		list := []string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			if table == "sqlite_sequence" && strings.HasPrefix(fmt.Sprint(renderValue(vals[0])), "calllog_") {
				continue
			}
			parts := make([]string, len(cols))
			for i, v := range vals {
				if cols[i] == "last_activity" {
					// A session's activity moves with the walk's own calls,
					// once a minute, by design.
					parts[i] = cols[i] + "=…"
					continue
				}
				parts[i] = cols[i] + "=" + renderValue(v)
			}
			list = append(list, strings.Join(parts, " | "))
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		sort.Strings(list)
		out[table] = list
	}
	require.NotEmpty(t, out["users"], "the snapshot sees the users table")
	return out
}

func renderValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if json.Valid(v) {
			return string(v)
		}
		return "0x" + hex.EncodeToString(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case sql.RawBytes:
		return string(v)
	}
	return fmt.Sprint(v)
}

// --- Generating bad input from a method's schemas ---

// fault is what a bad case gets wrong, and so how it must be answered.
type fault int

const (
	// faultSchema: a parameter does not match its schema: -32808, whose
	// message names the parameter when one is at fault.
	faultSchema fault = iota
	// faultParse: the body is not JSON: -32807, before the permission check.
	faultParse
	// faultSize: the body is too large: -32902 (HTTP 413), before anything else.
	faultSize
	// faultEnvelope: a JSON-RPC request object whose params are neither an
	// array nor an object: -32808, after the permission check like any
	// other fault of the parameters.
	faultEnvelope
	// faultHandler: the value fits the schema and the handler must refuse
	// it: any 4xx (a method in hugeStringOK may accept it).
	faultHandler
	// faultAny: any 4xx; the registry or the handler may refuse it.
	faultAny
	// faultMedia: the content type is not JSON (nor multipart/form-data to
	// an upload method): -32803.
	faultMedia
	// faultHTTP: an HTTP method other than GET and POST (405), or a GET
	// with a query string (400), refused before the permission check.
	faultHTTP
)

var faultNames = map[fault]string{
	faultSchema: "schema", faultParse: "parse", faultSize: "size",
	faultEnvelope: "envelope", faultHandler: "handler", faultAny: "any",
	faultMedia: "media", faultHTTP: "http",
}

// badCase is one request of the walk.
type badCase struct {
	what    string // what is wrong, for failure messages
	body    []byte
	param   int    // the 1-based parameter at fault; 0: none in particular
	label   string // the parameter's label in messages: parameter 2 "enabled"
	want    fault
	unsized bool // sent without a Content-Length
	// httpMethod replaces POST; query is appended to the path.
	httpMethod, query string
	// void asks for a void call, which must be refused just the same: the
	// parameters are checked before the call is answered.
	void bool
	// contentType, when set, replaces application/json. A multipart body is
	// read after the permission check, so its faults come after -32801.
	contentType string
}

// hugeStringOK lists the methods that may accept a 100 KB string, and why.
// Any other must refuse it with a 4xx.
var hugeStringOK = map[string]string{
	"/v1/test/test": "the API v1 reference's echo: it answers any string it is given, and stores nothing",
}

const hugeLen = 100_000

var (
	hugeString = strings.Repeat("x", hugeLen)
	// oversized is a body just past the registry's default 1 MiB limit.
	oversized = []byte(`["` + strings.Repeat("x", 1<<20) + `"]`)
)

// wrongValues are a value of each JSON type, by type.
var wrongValues = []struct {
	typ string
	raw string
}{
	{"string", `"wrong"`},
	{"integer", `7`},
	{"number", `2.5`},
	{"boolean", `true`},
	{"object", `{"wrong":1}`},
	{"array", `["wrong"]`},
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func params(list ...json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, v := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(v)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// with returns base with position i replaced by v.
func with(base []json.RawMessage, i int, v json.RawMessage) []byte {
	list := slices.Clone(base)
	list[i] = v
	return params(list...)
}

func isBool(s *jsonschema.Schema, want string) bool {
	if s == nil {
		return false
	}
	b, err := json.Marshal(s)
	return err == nil && string(b) == want
}

// acceptedTypes lists the JSON types a schema accepts ("number" implies
// "integer"), from type, a type list in Extras, or anyOf; nil means any value.
func acceptedTypes(s *jsonschema.Schema) []string {
	if s == nil || isBool(s, "true") {
		return nil
	}
	var types []string
	switch {
	case s.Type != "":
		types = []string{s.Type}
	case s.Extras["type"] != nil:
		switch list := s.Extras["type"].(type) {
		case []string:
			types = list
		case []any:
			for _, x := range list {
				types = append(types, fmt.Sprint(x))
			}
		case string:
			types = []string{list}
		}
	case len(s.AnyOf) > 0:
		for _, alt := range s.AnyOf {
			t := acceptedTypes(alt)
			if t == nil {
				return nil
			}
			types = append(types, t...)
		}
	default:
		return nil
	}
	if slices.Contains(types, "number") {
		types = append(types, "integer")
	}
	return types
}

func accepts(s *jsonschema.Schema, typ string) bool {
	types := acceptedTypes(s)
	return types == nil || slices.Contains(types, typ)
}

func requiredProps(s *jsonschema.Schema) []string {
	req := slices.Clone(s.Required)
	switch list := s.Extras["required"].(type) {
	case []string:
		req = append(req, list...)
	case []any:
		for _, x := range list {
			req = append(req, fmt.Sprint(x))
		}
	}
	return req
}

// named gives the base value of a parameter or property by its name, where
// a sample from the schema would stop the handler early: a user it can find,
// the caller's own token, a method that exists.
func (f *fixture) named(name string, c caller) (json.RawMessage, bool) {
	switch name {
	case "user_id", "username", "new_username":
		return raw(hardVictim), true
	case "password":
		return raw(hardVictimPass), true
	case "token_id":
		return raw(c.tokenID), true
	case "method_id":
		return raw("/v1/test/test"), true
	}
	return nil, false
}

// sample returns a value the schema accepts: the base value of a parameter
// or property the walk is not attacking at the moment.
func (f *fixture) sample(name string, s *jsonschema.Schema, c caller) json.RawMessage {
	if v, ok := f.named(name, c); ok {
		return v
	}
	if s == nil {
		return raw(nil)
	}
	if len(s.Enum) > 0 {
		return raw(s.Enum[0])
	}
	if len(s.AnyOf) > 0 {
		return f.sample(name, s.AnyOf[0], c)
	}
	types := acceptedTypes(s)
	if len(types) == 0 {
		return raw(nil)
	}
	switch types[0] {
	case "string":
		return raw("x")
	case "integer", "number":
		return raw(1)
	case "boolean":
		return raw(false)
	case "object":
		obj := map[string]json.RawMessage{}
		for _, name := range requiredProps(s) {
			var ps *jsonschema.Schema
			if s.Properties != nil {
				ps, _ = s.Properties.Get(name)
			}
			obj[name] = f.sample(name, ps, c)
		}
		return raw(obj)
	case "array":
		list := make([]json.RawMessage, len(s.PrefixItems))
		for i, item := range s.PrefixItems {
			list[i] = f.sample("", item, c)
		}
		for s.MinItems != nil && uint64(len(list)) < *s.MinItems {
			list = append(list, f.sample("", s.Items, c))
		}
		return params(list...)
	}
	return raw(nil)
}

// base returns a value for every parameter of m that its schema accepts.
func (f *fixture) base(m rpc.MethodInfo, c caller) []json.RawMessage {
	list := make([]json.RawMessage, len(m.Params))
	for i, p := range m.Params {
		if p.Read != nil {
			list[i] = raw(f.readBase(p.Read, c))
			continue
		}
		list[i] = f.sample(p.Name, p.Schema, c)
	}
	return list
}

// readBase is an options object that names the spec's required fields.
func (f *fixture) readBase(spec *read.Spec, c caller) map[string]any {
	where := map[string]any{}
	for _, fd := range spec.Fields {
		if fd.Required {
			where[fd.Name] = f.readSample(fd, c)
		}
	}
	if len(where) == 0 {
		return map[string]any{}
	}
	return map[string]any{"where": where}
}

func (f *fixture) readSample(fd read.Field, c caller) json.RawMessage {
	if v, ok := f.named(fd.Name, c); ok {
		return v
	}
	switch fd.Type {
	case read.Integer, read.Number:
		return raw(1)
	case read.Boolean:
		return raw(true)
	case read.Time:
		return raw("2020-01-02T03:04:05Z")
	case read.ID:
		return raw("100")
	}
	return raw("x")
}

// cases generates the bad requests for m as sent by c.
func (f *fixture) cases(m rpc.MethodInfo, c caller) []badCase {
	base := f.base(m, c)
	var out []badCase
	add := func(param int, want fault, what string, body []byte) {
		bc := badCase{what: what, body: body, param: param, want: want}
		if param > 0 {
			bc.label = fmt.Sprintf("parameter %d %q", param, m.Params[param-1].Name)
		}
		out = append(out, bc)
	}

	// The body as a whole.
	for _, b := range []string{`[`, `{"a":`, `["\x`, `[1] x`, `["a",]`, `[1,2`, `"unterminated`, `nul`, `[01]`, `[NaN]`, `{"jsonrpc":"2.0","method":`, "\xff\xfe"} {
		add(0, faultParse, "malformed JSON "+strconv.Quote(b), []byte(b))
	}
	add(0, faultParse, "10,000 nested arrays", []byte(strings.Repeat("[", 10_001)+strings.Repeat("]", 10_001)))
	add(0, faultSize, "a body of 1 MiB and more", oversized)
	out = append(out, badCase{what: "a body of 1 MiB and more, unsized", body: oversized, want: faultSize, unsized: true})
	add(0, faultSchema, "one parameter too many", params(append(slices.Clone(base), raw("extra"))...))
	add(0, faultSchema, "an unknown named parameter", []byte(`{"jsonrpc":"2.0","method":`+string(raw(m.ID))+`,"params":{"zz_unknown":1},"id":1}`))
	add(0, faultEnvelope, "JSON-RPC params that are a string", []byte(`{"jsonrpc":"2.0","method":`+string(raw(m.ID))+`,"params":"x","id":1}`))
	out = append(out, badCase{what: "content type text/plain", body: params(base...), want: faultMedia, contentType: "text/plain"})
	for _, verb := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		out = append(out, badCase{what: "HTTP " + verb, body: params(base...), want: faultHTTP, httpMethod: verb})
	}
	out = append(out, badCase{what: "GET with a query string", want: faultHTTP, httpMethod: http.MethodGet, query: "?user_id=1%20OR%201=1"})
	if len(m.Params) > 0 && !m.Params[0].Optional {
		out = append(out, badCase{what: "GET, which sends no parameters", want: faultSchema, httpMethod: http.MethodGet,
			param: 1, label: fmt.Sprintf("parameter 1 %q", m.Params[0].Name)})
	}
	if !m.Upload {
		body, ct := multipartBody(string(params(base...)), 1, "")
		out = append(out, badCase{what: "a multipart upload to a method that takes none", body: body, want: faultMedia, contentType: ct})
	}

	for i, p := range m.Params {
		label := fmt.Sprintf("parameter %d %q", i+1, p.Name)
		if !p.Optional {
			add(i+1, faultSchema, label+" missing", params(base[:i]...))
			if p.Read == nil && !accepts(p.Schema, "null") {
				add(i+1, faultSchema, label+" null", with(base, i, raw(nil)))
			}
		}
		add(i+1, faultAny, label+" 1,000 nested arrays", with(base, i, []byte(strings.Repeat("[", 1000)+strings.Repeat("]", 1000))))
		add(i+1, faultAny, label+" 1,000 nested objects", with(base, i, []byte(strings.Repeat(`{"a":`, 1000)+"1"+strings.Repeat("}", 1000))))
		add(i+1, faultParse, label+" 10,000 nested arrays", with(base, i, []byte(strings.Repeat("[", 10_000)+strings.Repeat("]", 10_000))))
		if p.Read != nil {
			for _, rc := range f.readCases(p.Read, c) {
				add(i+1, faultSchema, label+" "+rc.what, with(base, i, rc.value))
			}
			continue
		}
		if acceptedTypes(p.Schema) == nil {
			continue // any value fits: nothing is of a wrong type
		}
		for _, w := range wrongValues {
			if !accepts(p.Schema, w.typ) {
				add(i+1, faultSchema, label+" "+w.typ, with(base, i, json.RawMessage(w.raw)))
			}
		}
		if accepts(p.Schema, "string") {
			add(i+1, faultHandler, label+" a 100 KB string", with(base, i, raw(hugeString)))
		}
		if accepts(p.Schema, "object") && p.Schema.Properties != nil {
			for _, oc := range f.objectCases(p.Schema, c) {
				add(i+1, oc.want, label+" "+oc.what, with(base, i, oc.value))
			}
		}
		if vs := p.Schema.AdditionalProperties; vs != nil && !isBool(vs, "false") && !isBool(vs, "true") {
			// A map: its values must fit, and its keys mean something to the handler.
			for _, w := range wrongValues {
				if !accepts(vs, w.typ) {
					add(i+1, faultSchema, label+" a map value of type "+w.typ, with(base, i, []byte(`{"zz_key":`+w.raw+`}`)))
				}
			}
			add(i+1, faultHandler, label+" a key nobody declared", with(base, i, raw(map[string]json.RawMessage{"zz_undeclared": f.sample("", vs, c)})))
		}
	}
	// Void calls of a few of the parameter faults: refused all the same.
	for _, bc := range slices.Clone(out) {
		if bc.want == faultSchema && bc.contentType == "" && bc.httpMethod == "" &&
			(bc.param == 0 || strings.HasSuffix(bc.what, " missing") || strings.HasSuffix(bc.what, " string") || strings.HasSuffix(bc.what, " boolean")) {
			bc.what += ", as a void call"
			bc.void = true
			out = append(out, bc)
		}
	}
	if m.Upload {
		out = append(out, uploadCases(out, len(m.Params) > 0 && m.Params[0].File)...)
	}
	return out
}

// uploadCases sends an upload method broken multipart bodies, and the
// parameter faults among cases in a "params" part beside a file. When the
// file is the first parameter (fileFirst), the params part holds the ones
// after it, as @softvisio/core clients send them.
func uploadCases(cases []badCase, fileFirst bool) []badCase {
	var out []badCase
	add := func(want fault, what string, body []byte, ct string) {
		out = append(out, badCase{what: "multipart: " + what, body: body, want: want, contentType: ct})
	}
	for _, bc := range cases {
		if bc.want == faultSchema && bc.param > 0 && bc.contentType == "" && bytes.HasPrefix(bc.body, []byte("[")) {
			params := bc.body
			if fileFirst {
				var list []json.RawMessage
				if bc.param == 1 || json.Unmarshal(params, &list) != nil || len(list) == 0 {
					continue // the file's own place: the file part fills it
				}
				params = must2(json.Marshal(list[1:]))
			}
			body, ct := multipartBody(string(params), 1, "")
			out = append(out, badCase{what: "multipart: " + bc.what, body: body, param: bc.param, label: bc.label, want: faultSchema, contentType: ct})
		}
	}
	for _, p := range []string{`[`, `["\x`, `[1] x`} {
		body, ct := multipartBody(p, 1, "")
		add(faultParse, "params "+strconv.Quote(p), body, ct)
	}
	body, ct := multipartBody(`{"jsonrpc":"2.0","method":"/v1/test/test","params":[]}`, 1, "")
	add(faultSchema, "params a JSON-RPC request object", body, ct)
	body, ct = multipartBody(`[`+strings.Repeat(" ", 1<<20)+`]`, 1, "")
	add(faultSize, "a params part of 1 MiB and more", body, ct)
	body, ct = multipartBody(`[]`, 2, "")
	add(faultAny, "two file parts", body, ct)
	body, ct = multipartBody(`[]`, 1, "extra")
	add(faultAny, "an unexpected part", body, ct)
	add(faultAny, "no boundary", body, "multipart/form-data")
	add(faultAny, "cut short", body[:len(body)-10], ct)
	add(faultAny, "not multipart at all", []byte("garbage"), ct)
	return out
}

func must2[T any](v T, err error) T {
	must(err)
	return v
}

// multipartBody is an upload: a params part (unless params is ""), files
// "file" parts of 1 KB, and a part named extra (unless "").
func multipartBody(params string, files int, extra string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if params != "" {
		must(mw.WriteField("params", params))
	}
	for range files {
		fw, err := mw.CreateFormFile("file", "f.bin")
		must(err)
		_, err = fw.Write(bytes.Repeat([]byte{7}, 1024))
		must(err)
	}
	if extra != "" {
		must(mw.WriteField(extra, "x"))
	}
	must(mw.Close())
	return b.Bytes(), mw.FormDataContentType()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// valueCase is a bad value for one parameter.
type valueCase struct {
	what  string
	value json.RawMessage
	want  fault
}

// objectCases breaks an object parameter: required properties left out,
// properties nobody declared, properties of the wrong type or null, and
// 100 KB strings.
func (f *fixture) objectCases(s *jsonschema.Schema, c caller) []valueCase {
	baseObj := map[string]json.RawMessage{}
	req := requiredProps(s)
	for _, r := range req {
		ps, _ := s.Properties.Get(r)
		baseObj[r] = f.sample(r, ps, c)
	}
	withProp := func(key string, v json.RawMessage) json.RawMessage {
		o := make(map[string]json.RawMessage, len(baseObj)+1)
		for k, x := range baseObj {
			o[k] = x
		}
		if v == nil {
			delete(o, key)
		} else {
			o[key] = v
		}
		return raw(o)
	}
	var out []valueCase
	for _, r := range req {
		out = append(out, valueCase{what: "without required property " + r, value: withProp(r, nil), want: faultSchema})
	}
	if isBool(s.AdditionalProperties, "false") {
		out = append(out, valueCase{what: "with an unknown property", value: withProp("zz_unknown", raw(1)), want: faultSchema})
		out = append(out, valueCase{what: "with an unknown 100 KB property name", value: withProp(hugeString, raw(1)), want: faultSchema})
	}
	for p := s.Properties.Oldest(); p != nil; p = p.Next() {
		for _, w := range append(wrongValues, struct{ typ, raw string }{"null", `null`}) {
			if !accepts(p.Value, w.typ) {
				out = append(out, valueCase{what: "property " + p.Key + " " + w.typ, value: withProp(p.Key, json.RawMessage(w.raw)), want: faultSchema})
			}
		}
		if accepts(p.Value, "string") && acceptedTypes(p.Value) != nil {
			out = append(out, valueCase{what: "property " + p.Key + " a 100 KB string", value: withProp(p.Key, raw(hugeString)), want: faultHandler})
		}
	}
	return out
}

// readCases breaks a read-options parameter: every one is -32808.
func (f *fixture) readCases(spec *read.Spec, c caller) []valueCase {
	base := f.readBase(spec, c)
	where := func() map[string]any {
		w := map[string]any{}
		if bw, ok := base["where"].(map[string]any); ok {
			for k, v := range bw {
				w[k] = v
			}
		}
		return w
	}
	opts := func(key string, v any) json.RawMessage {
		o := map[string]any{}
		for k, x := range base {
			o[k] = x
		}
		o[key] = v
		return raw(o)
	}
	whereWith := func(field string, v any) json.RawMessage {
		w := where()
		w[field] = v
		return opts("where", w)
	}
	var out []valueCase
	bad := func(what string, v json.RawMessage) {
		out = append(out, valueCase{what: what, value: v, want: faultSchema})
	}

	for _, w := range wrongValues {
		if w.typ != "object" {
			bad("options of type "+w.typ, json.RawMessage(w.raw))
		}
	}
	bad("an unknown key", opts("select", "*"))
	bad("an upper-case key", opts("WHERE", map[string]any{}))
	bad("where an array", opts("where", []any{}))
	bad("where a string", opts("where", "1=1"))
	bad("where an undeclared field", whereWith("zz_nope", "x"))
	bad("where a field that is SQL", whereWith("1=1; --", "x"))
	bad("duplicate keys", json.RawMessage(`{"limit":1,"limit":2}`))
	if len(where()) > 0 {
		bad("where without its required fields", opts("where", map[string]any{}))
	}
	var sortable []string
	for _, fd := range spec.Fields {
		if fd.Sortable {
			sortable = append(sortable, fd.Name)
		} else {
			bad("order_by unsortable "+fd.Name, opts("order_by", fd.Name))
		}
		if len(fd.Conditions) == 0 {
			bad("where on unfilterable "+fd.Name, whereWith(fd.Name, f.readSample(fd, c)))
			continue
		}
		sample := f.readSample(fd, c)
		for _, op := range []string{"=", "!=", "<", ">", "<=", ">=", "like", "in", "not in"} {
			if slices.Contains(fd.Conditions, op) {
				continue
			}
			v := any(sample)
			if op == "in" || op == "not in" {
				v = []any{sample}
			}
			bad("where "+fd.Name+" undeclared operator "+op, whereWith(fd.Name, []any{op, v}))
		}
		for _, op := range []string{"LIKE", "~", "= 1 OR 1=1 --", "", "regexp"} {
			bad("where "+fd.Name+" unknown operator "+strconv.Quote(op), whereWith(fd.Name, []any{op, sample}))
		}
		op := fd.Conditions[0]
		bad("where "+fd.Name+" operator not a string", whereWith(fd.Name, []any{1, sample}))
		bad("where "+fd.Name+" [op] alone", whereWith(fd.Name, []any{op}))
		bad("where "+fd.Name+" [op, v, v]", whereWith(fd.Name, []any{op, sample, sample}))
		if !slices.Contains(fd.Conditions, "=") {
			bad("where "+fd.Name+" a bare value without =", whereWith(fd.Name, sample))
		}
		for _, v := range readWrongValues(fd, op) {
			bad(fmt.Sprintf("where %s [%q, %s]", fd.Name, op, trim(string(raw(v)), 40)), whereWith(fd.Name, []any{op, v}))
		}
	}
	for _, v := range []any{"zz_nope", "name; DROP TABLE users", 5, map[string]any{"a": 1}, []any{[]any{}}, "id desc"} {
		bad("order_by "+trim(string(raw(v)), 40), opts("order_by", v))
	}
	if len(sortable) > 0 {
		s := sortable[0]
		bad("order_by a direction that is SQL", opts("order_by", []any{s, "desc; --"}))
		bad("order_by a field twice", opts("order_by", []any{s, s}))
	}
	for _, v := range []any{0, -1, "x", 1.5, true, nil, "1; --"} {
		bad("limit "+string(raw(v)), opts("limit", v))
	}
	for _, v := range []any{-1, "x", 1.5} {
		bad("offset "+string(raw(v)), opts("offset", v))
	}
	return out
}

// readWrongValues are values a field of this type does not take with op.
func readWrongValues(fd read.Field, op string) []any {
	if op == "in" || op == "not in" {
		many := make([]any, 101)
		for i := range many {
			many[i] = "1"
		}
		return []any{"1", []any{}, many, []any{nil}, []any{map[string]any{}}}
	}
	if op == "like" {
		return []any{5, true, nil, []any{"x"}, strings.Repeat("x", 5000), "a\x00b"}
	}
	vals := []any{map[string]any{"a": 1}, []any{"x"}}
	if op != "=" && op != "!=" {
		vals = append(vals, nil)
	}
	switch fd.Type {
	case read.ID:
		vals = append(vals, "abc", "1 OR 1=1", "", -1, 1.5, true, "99999999999999999999")
	case read.Integer:
		vals = append(vals, "1", 1.5, true)
	case read.Number:
		vals = append(vals, "1", true)
	case read.Boolean:
		vals = append(vals, "true", 1)
	case read.Time:
		vals = append(vals, "yesterday", 5, true)
	default:
		vals = append(vals, 5, true, strings.Repeat("x", 5000), "a\x00b")
	}
	return vals
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// --- The walk ---

// check asserts how a bad case was answered: a 4xx (or, for a method in
// hugeStringOK, a success), with a message, never an exception; the code
// the fault calls for; a -32808 names the parameter at fault.
func check(t *testing.T, method string, c caller, allowed bool, bc badCase, r reply) {
	t.Helper()
	ctx := fmt.Sprintf("%s as %s: %s: %s", method, c.name, bc.what, trim(r.Raw, 400))
	if r.Error == nil {
		_, ok := hugeStringOK[method]
		assert.True(t, ok && allowed && bc.want == faultHandler, "a success: %s", ctx)
		return
	}
	code := r.Error.Code
	assert.GreaterOrEqual(t, r.HTTP, 400, ctx)
	assert.Less(t, r.HTTP, 500, ctx)
	assert.Equal(t, rpc.HTTPStatus(code), r.HTTP, "the HTTP status mirrors the code: %s", ctx)
	assert.NotEmpty(t, strings.TrimSpace(r.Error.Message), ctx)
	assert.False(t, r.Error.Data.Exception, ctx)
	assert.NotNil(t, r.Error.Data.Meta, "error.data.meta is an object: %s", ctx)
	assert.Less(t, len(r.Error.Message), 1000, "a hostile request cannot make the message large: %s", ctx)

	// Faults in reading a JSON body, and a content type that is neither
	// JSON nor multipart, are answered before the permission check; a
	// multipart body is read after it.
	early := !strings.HasPrefix(bc.contentType, "multipart/") &&
		(bc.want == faultSize || bc.want == faultParse || bc.want == faultMedia || bc.want == faultHTTP)
	switch {
	case !allowed && !early:
		assert.Equal(t, rpc.CodeInsufficientPermissions, code, "refused before the parameters are looked at: %s", ctx)
		return
	case bc.want == faultSize:
		assert.Equal(t, rpc.CodeTooLarge, code, ctx)
		return
	case bc.want == faultParse:
		assert.Equal(t, rpc.CodeParseError, code, ctx)
		return
	case bc.want == faultEnvelope:
		assert.Equal(t, rpc.CodeInvalidParams, code, ctx)
		return
	case bc.want == faultMedia:
		assert.Equal(t, rpc.CodeUnsupportedMediaType, code, ctx)
		return
	case bc.want == faultHTTP:
		want := http.StatusMethodNotAllowed
		if bc.httpMethod == http.MethodGet {
			want = http.StatusBadRequest
		}
		assert.Equal(t, want, code, ctx)
		return
	case code == rpc.CodeTooManyRequests:
		return // a rate limit came first: a 4xx, and nothing ran
	case code == http.StatusForbidden && r.Error.Data.Meta["authorization_required"] == true:
		return // the fixture's authorization has expired (a slow walk): a 4xx, and nothing ran
	case bc.want == faultSchema:
		assert.Equal(t, rpc.CodeInvalidParams, code, ctx)
	}
	if code == rpc.CodeInvalidParams && bc.param > 0 {
		// The message names the parameter at fault.
		assert.Contains(t, r.Error.Message, bc.label, ctx)
	}
}

// TestHardening walks every method with bad input generated from its schemas.
func TestHardening(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		f := newFixture(t, a)
		methods := a.reg.Methods()
		require.NotEmpty(t, methods)
		before := snapshot(t, a.db)

		var calls atomic.Int64
		var mu sync.Mutex
		codes := map[string]int{} // answers by fault and code, for the log
		start := time.Now()
		t.Run("walk", func(t *testing.T) {
			for _, m := range methods {
				t.Run(strings.TrimPrefix(m.ID, "/"), func(t *testing.T) {
					t.Parallel()
					allowed, guestOK := f.callers(m.Permissions)
					type send struct {
						c       caller
						allowed bool
					}
					sends := []send{{f.guest, guestOK}}
					for _, c := range allowed {
						sends = append(sends, send{c, true})
					}
					for _, s := range sends {
						cases := f.cases(m, s.c)
						require.NotEmpty(t, cases)
						for _, bc := range cases {
							r, err := a.serve(s.c, m.ID, bc)
							calls.Add(1)
							if !assert.NoError(t, err, "%s as %s: %s: %s", m.ID, s.c.name, bc.what, trim(r.Raw, 400)) {
								continue
							}
							check(t, m.ID, s.c, s.allowed, bc, r)
							mu.Lock()
							codes[fmt.Sprintf("%s %d", faultNames[bc.want], r.code())]++
							mu.Unlock()
						}
					}
				})
			}
		})
		t.Logf("%d methods, %d calls in %s; answers by fault and code: %v", len(methods), calls.Load(), time.Since(start).Round(time.Millisecond), codes)

		after := snapshot(t, a.db)
		for table, rows := range before {
			assert.Equal(t, rows, after[table], "table %s changed", table)
		}
		assert.Equal(t, len(before), len(after), "the same tables")

		// Methods that do not exist, as paths and as JSON-RPC request objects:
		// -32809 for everyone, before the permission check.
		for _, id := range []string{
			"/v1/nope", "/v1/admin/users/READ", "/v1/admin/users/read/", "/v1/admin/users/read\x00",
			"/v1/admin/users/read;DROP TABLE users", "/v1/' OR '1'='1", "/v1/" + strings.Repeat("z", 2000),
		} {
			for _, c := range []caller{f.guest, f.root} {
				for _, bc := range []badCase{
					{what: "path", body: []byte(`[]`), want: faultAny},
					{what: "JSON-RPC", body: []byte(`{"jsonrpc":"2.0","method":` + string(raw(id)) + `,"params":[],"id":1}`), want: faultAny},
				} {
					path := (&url.URL{Path: id}).EscapedPath()
					if bc.what == "JSON-RPC" {
						path = "/v1/test/test"
					}
					bc.what += " " + trim(strconv.Quote(id), 60)
					r, err := a.serve(c, path, bc)
					require.NoError(t, err, bc.what)
					check(t, id, c, true, bc, r)
					assert.Equal(t, rpc.CodeMethodNotFound, r.code(), "%s: %s", bc.what, r.Raw)
				}
			}
		}

		// Tokens that are malformed, unknown or huge make the caller a guest.
		bogus := []caller{
			{name: "garbage token", token: "garbage"},
			{name: "unknown session", token: "ses_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{name: "unknown API token", token: "tok_' OR '1'='1"},
			{name: "empty session", token: "ses_"},
			{name: "100 KB token", token: "ses_" + hugeString},
		}
		for _, m := range methods {
			_, guestOK := f.callers(m.Permissions)
			for _, c := range bogus {
				r, err := a.serve(c, m.ID, badCase{body: []byte(`[]`)})
				require.NoError(t, err)
				what := fmt.Sprintf("%s with a %s: %s", m.ID, c.name, trim(r.Raw, 300))
				if !guestOK {
					assert.Equal(t, rpc.CodeInsufficientPermissions, r.code(), what)
				}
				assert.Less(t, r.HTTP, 500, what)
				if r.Error != nil {
					assert.False(t, r.Error.Data.Exception, what)
				}
			}
		}

		// The callers still work: nothing the walk sent spoiled a session.
		for _, c := range []caller{f.root, f.plain} {
			assert.Equal(t, 200, a.call(t, c.token, "/v1/profile/read", ``).HTTP, c.name)
		}
	})
}
