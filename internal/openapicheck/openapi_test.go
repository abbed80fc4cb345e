package openapicheck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// validOpenAPI checks doc with libopenapi (a maintained OpenAPI 3.1
// implementation): it must build a model and pass the OpenAPI 3.1 schema.
func validOpenAPI(t *testing.T, doc []byte) validator.Validator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	require.NoError(t, err)
	_, err = d.BuildV3Model()
	require.NoError(t, err, "the document does not build a model")
	v, errs := validator.NewValidator(d)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	for _, e := range verrs {
		t.Errorf("OpenAPI 3.1 schema: %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			t.Errorf("  at %s: %s", se.FieldPath+" "+se.KeywordLocation, se.Reason)
		}
	}
	require.True(t, ok)
	return v
}

type account struct {
	ID      int64             `json:"id,string"`
	Name    string            `json:"name"`
	Email   *string           `json:"email"`
	Tags    []string          `json:"tags"`
	Perms   map[string]bool   `json:"permissions"`
	Created time.Time         `json:"created"`
	Extra   map[string]*inner `json:"extra,omitempty"`
	inner
}

type inner struct {
	Note *string `json:"note"`
}

func openAPIRegistry(opts rpc.Options) *rpc.Registry {
	opts.Permissions = auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})
	reg := rpc.New(opts)
	mod := reg.Section("/v1/accounts", "Accounts")
	mod.Register(rpc.Method{ID: "get", Title: "Get an account", Description: "Answers the account.", Permissions: []string{"admin"},
		Params: []rpc.Param{{Name: "id"}}, Handler: func(_ context.Context, id string) (*account, error) {
			if id == "none" {
				return nil, nil
			}
			return &account{ID: 7, Name: "ann", Created: time.Now().UTC()}, nil
		}})
	mod.Register(rpc.Method{ID: "list", Title: "List accounts", Permissions: []string{auth.User},
		Handler: func(context.Context) ([]account, error) { return nil, nil }})
	mod.Register(rpc.Method{ID: "touch-all", Title: "Touch", Permissions: []string{auth.Anyone},
		RateLimit: &rpc.RateLimit{PerSecond: 1, Burst: 1}, Handler: func(context.Context) error { return nil }})
	mod.Register(rpc.Method{ID: "raw", Title: "Raw", Permissions: []string{auth.Guest}, DataType: reflect.TypeFor[int](),
		Handler: func(context.Context) (rpc.Result, error) { return rpc.Result{Data: 1}, nil }})
	mod.Register(rpc.Method{ID: "untyped", Title: "Untyped", Permissions: []string{auth.Anyone},
		Handler: func(context.Context) (*rpc.Result, error) { return &rpc.Result{Data: "any"}, nil }})
	mod.Register(rpc.Method{ID: "read", Title: "Read accounts", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "options?", Read: accountsRead}}, DataType: reflect.TypeFor[[]account](),
		Handler: readAccounts})
	mod.Register(rpc.Method{ID: "touch_all", Title: "Touch again", Permissions: []string{auth.Anyone},
		Handler: func(context.Context) error { return nil }})
	return reg
}

var accountsRead = &read.Spec{Fields: []read.Field{
	{Name: "id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
	{Name: "name", Conditions: []string{"like"}},
}}

// readAccounts answers account 7, or no row when options.id names another.
func readAccounts(_ context.Context, o read.Options) (rpc.Result, error) {
	rows := []account{{ID: 7, Name: "ann", Created: time.Now().UTC()}}
	if id, ok := o.Value("id"); ok && id != int64(7) {
		rows = nil
	}
	return rpc.ReadPage(o, rows, len(rows))
}

// dataSchema returns, compacted, the data schema of the 200 answer of the
// operation at path in the document raw.
func dataSchema(t *testing.T, raw []byte, path string) string {
	t.Helper()
	var doc struct {
		Paths map[string]struct {
			Post struct {
				Responses map[string]struct {
					Content map[string]struct {
						Schema struct {
							Properties struct {
								Result struct {
									Properties map[string]json.RawMessage
								}
							}
						}
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	var compact bytes.Buffer
	data := doc.Paths[path].Post.Responses["200"].Content["application/json"].Schema.Properties.Result.Properties["data"]
	require.NoError(t, json.Compact(&compact, data), path)
	return compact.String()
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	reg := openAPIRegistry(rpc.Options{Prefix: "/api", BaseURL: "https://api.example.com/", Version: "2.3.0"})
	raw, err := reg.OpenAPI()
	require.NoError(t, err)
	validOpenAPI(t, raw)

	var doc struct {
		Info    struct{ Version string }
		Servers []struct{ URL string }
		Paths   map[string]struct {
			Post struct {
				OperationID string `json:"operationId"`
				Description string
				Security    []map[string][]string
				Responses   map[string]json.RawMessage
			}
		}
		Components struct {
			SecuritySchemes map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.Equal(t, "2.3.0", doc.Info.Version)
	require.Len(t, doc.Servers, 1)
	assert.Equal(t, "https://api.example.com/api", doc.Servers[0].URL)
	assert.Equal(t, "bearer", doc.Components.SecuritySchemes["bearer"]["scheme"])

	ident := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	seen := map[string]bool{}
	for id, p := range doc.Paths {
		op := p.Post
		assert.Regexp(t, ident, op.OperationID, id)
		assert.False(t, seen[op.OperationID], "operationId %s twice", op.OperationID)
		seen[op.OperationID] = true
		assert.NotEmpty(t, op.Description, id)
		for _, code := range []string{"200", "400", "404", "413", "415", "500", "default"} {
			assert.Contains(t, op.Responses, code, "%s answers %s", id, code)
		}
	}
	assert.Equal(t, "v1AccountsTouchAll", doc.Paths["/v1/accounts/touch-all"].Post.OperationID)
	assert.Equal(t, "v1AccountsTouchAll2", doc.Paths["/v1/accounts/touch_all"].Post.OperationID)
	assert.Contains(t, doc.Paths["/v1/accounts/get"].Post.Responses, "401", "needs a permission")
	assert.NotContains(t, doc.Paths["/v1/accounts/touch-all"].Post.Responses, "401", "anyone may call")
	assert.Contains(t, doc.Paths["/v1/accounts/raw"].Post.Responses, "401", "a guest method refuses signed-in callers")
	assert.Contains(t, doc.Paths["/v1/accounts/touch-all"].Post.Responses, "429", "rate limited")
	assert.NotContains(t, doc.Paths["/v1/accounts/get"].Post.Responses, "429")
	assert.Equal(t, []map[string][]string{{"bearer": {}}}, doc.Paths["/v1/accounts/get"].Post.Security)
	assert.Contains(t, doc.Paths["/v1/accounts/get"].Post.Description, "Answers the account.")
	assert.Contains(t, doc.Paths["/v1/accounts/get"].Post.Description, "`admin`")

	// The answer's data is typed from the handler's return type.
	data := dataSchema(t, raw, "/v1/accounts/get")
	for _, want := range []string{`"id":{"type":"string"}`, `"email":{"type":["string","null"]}`, `"note":{"type":["string","null"]}`,
		`"created":{"format":"date-time","type":"string"}`, `"tags":{"items":{"type":"string"},"type":["array","null"]}`} {
		assert.Contains(t, data, want)
	}
	assert.Contains(t, data, `"type":["object","null"]`, "a nil *account is sent as null")

	// A Result's data is typed by the method's DataType, or any value.
	assert.Equal(t, `{"type":"integer"}`, dataSchema(t, raw, "/v1/accounts/raw"))
	assert.Equal(t, `{}`, dataSchema(t, raw, "/v1/accounts/untyped"))
	// A read's data is its rows, or the one row that options.id names.
	read := dataSchema(t, raw, "/v1/accounts/read")
	assert.Regexp(t, `^\{"anyOf":\[\{"items":\{.*"type":\["array","null"\]\},\{.*"type":"object"\}\]\}$`, read)
	assert.Contains(t, read, `"name":{"type":"string"}`)
}

func TestOpenAPIServerDefaults(t *testing.T) {
	t.Parallel()
	for prefix, want := range map[string]string{"": "/", "/api/": "/api"} {
		raw, err := openAPIRegistry(rpc.Options{Prefix: prefix}).OpenAPI()
		require.NoError(t, err)
		var doc struct {
			Info    struct{ Version string }
			Servers []struct{ URL string }
		}
		require.NoError(t, json.Unmarshal(raw, &doc))
		assert.Equal(t, want, doc.Servers[0].URL)
		assert.Equal(t, "1", doc.Info.Version)
	}
}

// TestOpenAPIAnswers holds real answers to the document: requests and
// responses, successes and failures, must match what it says.
func TestOpenAPIAnswers(t *testing.T) {
	t.Parallel()
	reg := openAPIRegistry(rpc.Options{Prefix: "/api", Auth: nil})
	reg.Auth().HandlePrefix("ext", "ext.", auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		return &auth.Principal{UserID: 5, Username: "ann", Permissions: map[string]bool{"admin": true}}, nil
	}))
	raw, err := reg.OpenAPI()
	require.NoError(t, err)
	v := validOpenAPI(t, raw)

	for _, c := range []struct {
		path, body, token string
		code              int
	}{
		{"/api/v1/accounts/get", `["7"]`, "ext.1", 200},
		{"/api/v1/accounts/get", `["none"]`, "ext.1", 200},
		{"/api/v1/accounts/get", `["7"]`, "", rpc.CodeInsufficientPermissions},
		{"/api/v1/accounts/get", `[7]`, "ext.1", rpc.CodeInvalidParams},
		{"/api/v1/accounts/list", `[]`, "ext.1", 200},
		{"/api/v1/accounts/touch-all", `[]`, "", 200},
		{"/api/v1/accounts/touch-all", `[]`, "", 429},
		{"/api/v1/accounts/raw", `[]`, "", 200},
		{"/api/v1/accounts/untyped", `[]`, "", 200},
		{"/api/v1/accounts/read", `[]`, "ext.1", 200},
		{"/api/v1/accounts/read", `[{"where":{"name":["like","an"]},"order_by":[["id","desc"]],"limit":5}]`, "ext.1", 200},
		{"/api/v1/accounts/read", `[{"id":"7"}]`, "ext.1", 200},
		{"/api/v1/accounts/read", `[{"id":7}]`, "ext.1", 200},
		{"/api/v1/accounts/read", `[{"id":"8"}]`, "ext.1", 404},
		{"/api/v1/accounts/read", `[{"id":["=","7"]}]`, "ext.1", rpc.CodeInvalidParams},
	} {
		req := httptest.NewRequest(http.MethodPost, "https://api.example.com"+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, req.Clone(req.Context()))
		res := rec.Result()
		a, err := rpctest.ReadAnswer(rec.Result())
		require.NoError(t, err)
		require.Equal(t, c.code, a.Code, "%s %s: %s", c.path, c.body, a.Raw)

		req.Body = http.NoBody
		req2 := httptest.NewRequest(http.MethodPost, "https://api.example.com"+c.path, strings.NewReader(c.body))
		req2.Header = req.Header
		// A request the document does not allow (no token, a wrong
		// parameter) is for checking the refusal: its answer alone counts.
		ok, errs := v.ValidateHttpResponse(req2, res)
		if c.code >= 200 && c.code < 300 {
			ok, errs = v.ValidateHttpRequestResponse(req2, res)
		}
		for _, e := range errs {
			t.Errorf("%s %s: %s: %s", c.path, c.body, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s: %s", se.FieldPath+" "+se.KeywordLocation, se.Reason)
			}
		}
		assert.True(t, ok, "%s %s: %s", c.path, c.body, a.Raw)
	}
}
