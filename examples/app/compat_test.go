package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// compatDoc is docs/compat.md: for every method, the fields @softvisio/core
// front ends read and ours, field by field. Its lines "Seed: `path`, …" and
// "Ours: `path`, …" (or "Ours: no data.") are what TestCompatDocIsTrue holds
// to real answers.
const compatDoc = "../../docs/compat.md"

// compatSection is one method's section of docs/compat.md.
type compatSection struct {
	seed, ours []string
	noData     bool
}

var (
	compatHead = regexp.MustCompile("(?m)^### `([^`]+)`$")
	compatLine = regexp.MustCompile("(?m)^(Seed|Ours): (.*)$")
)

func readCompatDoc(t *testing.T) map[string]compatSection {
	t.Helper()
	b, err := os.ReadFile(compatDoc)
	require.NoError(t, err)
	md := string(b)
	heads := compatHead.FindAllStringSubmatchIndex(md, -1)
	require.NotEmpty(t, heads)
	out := map[string]compatSection{}
	for i, h := range heads {
		end := len(md)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		id := md[h[2]:h[3]]
		var s compatSection
		for _, l := range compatLine.FindAllStringSubmatch(md[h[1]:end], -1) {
			var paths []string
			for _, p := range backticks.FindAllStringSubmatch(l[2], -1) {
				paths = append(paths, p[1])
			}
			switch {
			case l[1] == "Seed":
				s.seed = paths
			case strings.HasPrefix(l[2], "no data"):
				s.noData = true
			default:
				s.ours = paths
			}
		}
		require.NotContains(t, out, id, "two sections for %s", id)
		out[id] = s
	}
	return out
}

// missingPath reports where path is missing in v (a decoded result): "" when
// every value it names is there. "a.b" names a field of an object, "a[]"
// every item of a non-empty array.
func missingPath(v any, path string) string {
	if path == "" {
		return ""
	}
	name, rest, _ := strings.Cut(path, ".")
	each := strings.HasSuffix(name, "[]")
	name = strings.TrimSuffix(name, "[]")
	if name != "" {
		obj, ok := v.(map[string]any)
		if !ok {
			return name + " (not an object)"
		}
		if v, ok = obj[name]; !ok {
			return name
		}
	}
	if !each {
		return missingPath(v, rest)
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return name + "[] (not a non-empty array)"
	}
	for _, item := range list {
		if m := missingPath(item, rest); m != "" {
			return name + "[]." + m
		}
	}
	return ""
}

// TestCompatDocIsTrue calls every method of the app as @softvisio/core front
// ends would and holds each answer to docs/compat.md: every field the section
// names as ours is in the answer, and the front ends' are among ours. Every
// method the app serves has a section.
func TestCompatDocIsTrue(t *testing.T) {
	t.Parallel()
	doc := readCompatDoc(t)
	// A settings key: TOTP secrets are sealed with it.
	a := startApp(t, storagetest.SQLiteDSN(t), func(c *config) { c.SettingsKey = settings.GenerateKey() })
	var ids []string
	for _, m := range a.reg.Methods() {
		ids = append(ids, m.ID)
	}
	for _, id := range ids {
		assert.Contains(t, doc, id, "docs/compat.md has no section for %s", id)
	}
	for id, s := range doc {
		assert.Contains(t, ids, id, "docs/compat.md describes %s, which the app does not serve", id)
		for _, p := range s.seed {
			assert.Contains(t, s.ours, p, "%s: the front ends' %s is not among ours", id, p)
		}
		assert.True(t, s.noData != (len(s.ours) > 0), "%s: say which fields are ours, or no data", id)
	}

	answers := compatAnswers(t, a)
	for id, s := range doc {
		res, called := answers[id]
		if !called {
			// Only the mail flows (and OAuth's) are not called here (they need a mailer
			// and the token it sends); examples/app's email tests call them.
			assert.Contains(t, []string{"/v1/admin/settings/test-smtp", "/v1/session/send-confirmation-email",
				"/v1/session/send-password-reset-email", "/v1/session/confirm-email-by-token",
				"/v1/session/set-password-by-token",
				// and the OAuth flow, which needs a provider: oauth_test.go.
				"/v1/session/oauth-url", "/v1/profile/remove-identity",
				// and the passkey ceremony, which needs an authenticator:
				// the users tests' and the console's browser test.
				"/v1/profile/finish-passkey", "/v1/profile/rename-passkey", "/v1/profile/remove-passkey"}, id, "%s is not called", id)
			continue
		}
		if s.noData {
			assert.NotContains(t, res, "data", "%s answers data; docs/compat.md says none", id)
			continue
		}
		for _, p := range s.ours {
			assert.Empty(t, missingPath(res, p), "%s: %s is not in the answer %v", id, p, res)
		}
	}
}

// compatAnswers calls every method it can (as root, or as a guest where
// that is the case to show) and returns each successful answer's result.
func compatAnswers(t *testing.T, a *testApp) map[string]map[string]any {
	out := map[string]map[string]any{}
	call := func(token, method, params string) map[string]any {
		t.Helper()
		r := a.call(t, token, method, params)
		require.Equal(t, 200, r.HTTP, "%s %s: %s", method, params, r.Raw)
		var env struct {
			Result map[string]any `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.Raw), &env))
		out[method] = env.Result
		if os.Getenv("AUTHRPC_COMPAT_DUMP") != "" {
			t.Logf("%s %s\n%s", method, params, r.Raw)
		}
		return env.Result
	}
	str := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	signin := call("", "/v1/session/signin", `[{"username":"root","password":"root-password-for-tests"}]`)
	root := signin["data"].(map[string]any)["token"].(string)
	whoami := call(root, "/v1/session/signin", ``)
	assert.Equal(t, signin["data"].(map[string]any)["auth"], whoami["data"].(map[string]any)["auth"], "the same auth, without a token")
	out["/v1/session/signin"] = signin
	call(root, "/v1/profile/set-email", `["root@example.com"]`)
	call(root, "/v1/profile/set-telegram-username", `["root_gram"]`)
	call(root, "/v1/profile/read", ``)
	call(root, "/v1/profile/get-identities", ``)
	call(root, "/v1/session/authorize", `[{"password":"root-password-for-tests"}]`)
	secret := call(root, "/v1/profile/begin-totp", ``)["data"].(map[string]any)["secret"].(string)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	call(root, "/v1/profile/confirm-totp", `["`+code+`"]`)
	call(root, "/v1/profile/get-second-factors", ``)
	call(root, "/v1/profile/new-recovery-codes", ``)
	call(root, "/v1/profile/remove-totp", ``)
	call(root, "/v1/admin/users/get-identities", `["root"]`)
	call("", "/v1/session/get-oauth-providers", ``)
	call(root, "/v1/admin/settings/update", `[{"signup_enabled":true}]`) // signup is closed until opened
	call("", "/v1/session/signup", `[{"username":"signed-up","password":"signed-up-password"}]`)

	call(root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password","email":"Ann@Example.com"}]`)
	call(root, "/v1/admin/users/read", `[{"where":{"search":["like","ann"]}}]`)
	call(root, "/v1/admin/users/suggest", `[{"where":{"name":["like","an"]}}]`)
	call(root, "/v1/admin/users/set-enabled", `["ann", true]`)
	annPassword := call(root, "/v1/admin/users/set-password", `["ann"]`)["data"].(map[string]any)["password"].(string)
	perms := call(root, "/v1/admin/users/get-permissions", `["ann"]`)
	// The front ends' permissions dialog sends back {id: enabled} of the rows
	// it got.
	back := map[string]bool{}
	for _, p := range perms["data"].([]any) {
		back[p.(map[string]any)["id"].(string)] = true
	}
	call(root, "/v1/admin/users/set-permissions", `["ann", `+str(back)+`]`)
	call(root, "/v1/admin/users/update-permissions", `["ann", {"admin": false}]`)
	call(root, "/v1/admin/users/set-username", `["ann", "anna"]`)
	annCreds := `[{"username":"anna","password":` + str(annPassword) + `}]`
	ann := call("", "/v1/session/signin", annCreds)["data"].(map[string]any)["token"].(string)
	call("", "/v1/session/signin", annCreds)
	sessions := call(ann, "/v1/profile/get-sessions", ``)
	call(root, "/v1/admin/users/get-sessions", `["anna"]`)
	other := ""
	for _, s := range sessions["data"].([]any) {
		if row := s.(map[string]any); row["current"] == false {
			other = row["id"].(string)
		}
	}
	call(ann, "/v1/profile/sign-out-session", `["`+other+`"]`)
	call(ann, "/v1/session/authorize", `[{"password":`+str(annPassword)+`}]`)
	call("", "/v1/session/signin", annCreds)
	call(ann, "/v1/profile/sign-out-all-sessions", ``)
	ann2 := call("", "/v1/session/signin", annCreds)["data"].(map[string]any)["token"].(string)
	ses2 := call(ann2, "/v1/profile/get-sessions", ``)["data"].([]any)[0].(map[string]any)["id"].(string)
	call(root, "/v1/admin/users/sign-out-session", `["anna", "`+ses2+`"]`)
	call("", "/v1/session/signin", annCreds)
	call(root, "/v1/admin/users/sign-out-all-sessions", `["anna"]`)

	tok := call(root, "/v1/api-tokens/create", `["bot"]`)
	tokID := tok["data"].(map[string]any)["id"].(string)
	call(root, "/v1/api-tokens/read", ``)
	call(root, "/v1/api-tokens/get-permissions", `["`+tokID+`"]`)
	call(root, "/v1/api-tokens/set-enabled", `["`+tokID+`", false]`)
	call(root, "/v1/api-tokens/set-permissions", `["`+tokID+`", {"admin": true}]`)
	call(root, "/v1/api-tokens/update-permissions", `["`+tokID+`", {"admin": false}]`)
	call(root, "/v1/api-tokens/delete", `["`+tokID+`"]`)

	call(root, "/v1/admin/settings/read", ``)
	call(root, "/v1/admin/settings/update", `[{"app_url":"https://example.com"}]`)
	// Passkeys take their relying party from the app URL.
	call(root, "/v1/profile/get-passkeys", ``)
	call("", "/v1/session/begin-passkey-signin", ``)
	call(root, "/v1/session/authorize", `[{"password":"root-password-for-tests"}]`)
	call(root, "/v1/profile/begin-passkey", ``)

	call("", "/v1/test/test", `["hi"]`)
	call(root, "/v1/test/publish", `["note", ["root"], ["hi", 1]]`)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("params", `["a note"]`))
	fw, err := mw.CreateFormFile("file", "f.txt")
	require.NoError(t, err)
	_, err = fw.Write([]byte("file"))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, a.url+"/v1/test/upload", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	up := a.send(t, req)
	require.Equal(t, 200, up.HTTP, up.Raw)
	var upEnv struct {
		Result map[string]any `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(up.Raw), &upEnv))
	out["/v1/test/upload"] = upEnv.Result

	require.Eventually(t, func() bool {
		r := a.call(t, root, "/v1/admin/api-call-log/read-log", `[{"where":{"method_id":"/v1/test/test"}}]`)
		return r.HTTP == 200 && string(r.Result.Data) != "[]"
	}, 10*time.Second, 50*time.Millisecond)
	call(root, "/v1/admin/api-call-log/read-log", `[{"where":{"method_id":"/v1/test/test"}}]`)
	call(root, "/v1/admin/api-call-log/read-latest-stat", ``)
	call(root, "/v1/admin/api-call-log/read-history-stat", `["/v1/test/test"]`)
	call(root, "/v1/admin/api-call-log/read-overview", ``)
	call(root, "/v1/admin/audit/read", `[{"where":{"action":"users.create"}}]`)

	call(root, "/v1/session/authorize", `[{"password":"root-password-for-tests"}]`)
	call(root, "/v1/admin/users/remove-factors", `["anna"]`)
	call(root, "/v1/admin/users/delete", `["anna"]`)
	call(root, "/v1/session/signout", ``)
	return out
}

// The sections of docs/compat.md name methods in the order the app's
// reference lists them, so that a reader finds them where they expect.
func TestCompatDocOrder(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(compatDoc)
	require.NoError(t, err)
	var got []string
	for _, m := range compatHead.FindAllStringSubmatch(string(b), -1) {
		got = append(got, m[1])
	}
	golden, err := os.ReadFile("../../testdata/seed_methods.txt")
	require.NoError(t, err)
	var want []string
	for _, line := range strings.Split(string(golden), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, strings.Fields(line)[0])
		}
	}
	assert.Equal(t, want, slices.DeleteFunc(got, func(id string) bool { return !slices.Contains(want, id) }))
}
