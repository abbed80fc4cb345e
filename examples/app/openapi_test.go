package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// TestReferenceTouchesNoDatabase renders both references with -db naming a
// SQLite file that must not come to exist and a PostgreSQL server that is
// not there.
func TestReferenceTouchesNoDatabase(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "app.db")
	for _, dsn := range []string{file, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"} {
		for _, cmd := range []string{"markdown", "openapi"} {
			var out, errs bytes.Buffer
			require.NoError(t, run(context.Background(), []string{"-db", dsn, cmd}, &out, &errs), "%s %s: %s", dsn, cmd, errs.String())
			assert.NotEmpty(t, out.String())
			assert.Empty(t, errs.String(), "%s %s: nothing to say on stderr", dsn, cmd)
		}
	}
	_, err := os.Stat(file)
	assert.ErrorIs(t, err, os.ErrNotExist, "rendering the reference created the database file")

	var out, errs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-base-url", "https://api.example.com", "markdown"}, &out, &errs))
	assert.Contains(t, out.String(), `"https://api.example.com/api/v1/session/signin"`)
	assert.NotContains(t, out.String(), "api.domain.com")
}

// TestOpenAPIDescribesTheApp validates the app's document with libopenapi
// (OpenAPI 3.1), then holds real calls of the running app, successes and
// refusals, to it: each request and answer must be what the document says.
func TestOpenAPIDescribesTheApp(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-base-url", "https://api.example.com", "openapi"}, &out, &errs), errs.String())
	doc, err := libopenapi.NewDocument(out.Bytes())
	require.NoError(t, err)
	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com/api", model.Model.Servers[0].URL)
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		assert.NotEmpty(t, item.Post.Description, path)
		assert.NotContains(t, item.Post.OperationId, "/", path)
	}
	v, verrs := validator.NewValidator(doc)
	require.Empty(t, verrs)
	ok, vErrs := v.ValidateDocument()
	for _, e := range vErrs {
		t.Errorf("%s: %s", e.Message, e.Reason)
	}
	require.True(t, ok)

	a := startApp(t, storagetest.SQLiteDSN(t))
	root := a.signin(t, "root", "root-password-for-tests")
	check := func(token, method, params string) reply {
		t.Helper()
		r := a.call(t, token, method, params)
		req, err := http.NewRequest(http.MethodPost, "https://api.example.com/api"+method, strings.NewReader(params))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res := &http.Response{StatusCode: r.HTTP, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(r.Raw)), Request: req}
		// A request the document does not allow (no token, a wrong
		// parameter) is for checking the refusal: its answer alone counts.
		ok, errs := v.ValidateHttpResponse(req, res)
		if r.Error == nil {
			ok, errs = v.ValidateHttpRequestResponse(req, res)
		}
		for _, e := range errs {
			t.Errorf("%s %s: %s: %s: %s", method, params, e.Message, e.Reason, r.Raw)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath+" "+se.KeywordLocation, se.Reason)
			}
		}
		assert.True(t, ok, "%s %s", method, params)
		return r
	}
	check("", "/v1/session/signin", `[{"username":"root","password":"root-password-for-tests"}]`)
	check(root, "/v1/session/signin", `[]`)
	check(root, "/v1/profile/read", `[]`)
	ann := check(root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password-1"}]`)
	var user struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(ann.Result.Data, &user), ann.Raw)
	check(root, "/v1/admin/users/read", `[{"where":{"search":["like","an"]}}]`)
	check(root, "/v1/admin/users/read", `[{"id":"`+user.ID+`"}]`) // one row, by itself
	check(root, "/v1/admin/users/get-permissions", `["ann"]`)
	check(root, "/v1/admin/users/suggest", `[]`)
	created := check(root, "/v1/api-tokens/create", `["ci"]`)
	var tok struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(created.Result.Data, &tok), created.Raw)
	check(root, "/v1/api-tokens/read", `[]`)
	check(root, "/v1/api-tokens/read", `[{"id":"`+tok.ID+`"}]`)
	check(root, "/v1/api-tokens/get-permissions", `["`+tok.ID+`"]`)
	check(root, "/v1/admin/settings/read", `[]`)
	check(root, "/v1/admin/api-call-log/read-latest-stat", `[]`)
	check(root, "/v1/test/test", `["hi"]`)
	// read-log's rows, once the writer has stored the test call's.
	logOpts := `[{"where":{"method_id":["=","/v1/test/test"]}}]`
	require.Eventually(t, func() bool {
		return a.call(t, root, "/v1/admin/api-call-log/read-log", logOpts).Result.Data[0] == '[' &&
			len(a.call(t, root, "/v1/admin/api-call-log/read-log", logOpts).Result.Data) > 2
	}, 10*time.Second, 50*time.Millisecond)
	check(root, "/v1/admin/api-call-log/read-log", logOpts)

	// Refusals are in the document too.
	check("", "/v1/admin/users/read", `[]`)                                                   // -32801
	check(root, "/v1/admin/users/get-permissions", `[7]`)                                     // -32808
	check(root, "/v1/admin/users/get-permissions", `["nobody-here"]`)                         // 404
	check(root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password-1"}]`) // 409
}
