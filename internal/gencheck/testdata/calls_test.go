package api

// TestGeneratedClient copies this file beside the client that ogen
// generates from the example app's OpenAPI document (package api), and runs
// it against the app: GENCHECK_SERVER is the document's server URL, and
// GENCHECK_ROOT_PASSWORD root's password.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"
)

// token is the bearer token the client sends; empty: none, as a guest.
type token string

func (t token) Bearer(context.Context, OperationName) (Bearer, error) {
	if t == "" {
		return Bearer{}, ogenerrors.ErrSkipClientSecurity
	}
	return Bearer{Token: string(t)}, nil
}

func client(t *testing.T, tok token) *Client {
	t.Helper()
	c, err := NewClient(os.Getenv("GENCHECK_SERVER"), tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// params encodes the positional parameters of a call.
func params(t *testing.T, values ...any) []jx.Raw {
	t.Helper()
	out := make([]jx.Raw, len(values))
	for i, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = raw
	}
	return out
}

// answer asserts that res, the answer of a call, is of type T.
func answer[T any](t *testing.T, res any, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("the call failed: %v", err)
	}
	v, ok := res.(T)
	if !ok {
		t.Fatalf("the answer is %T %+v, want %T", res, res, *new(T))
	}
	return v
}

func TestCalls(t *testing.T) {
	ctx := t.Context()
	guest := client(t, "")

	// Sign in: a guest sends the credentials and gets a session token.
	type credentials struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	res, err := guest.V1SessionSignin(ctx, params(t, credentials{"root", os.Getenv("GENCHECK_ROOT_PASSWORD")}))
	signin := answer[*V1SessionSigninOK](t, res, err)
	session, ok := signin.Result.Data.Get()
	if !ok || !session.Auth.IsAuthenticated || session.Auth.Username != "root" || session.Token.Or("") == "" {
		t.Fatalf("signin answered %+v", signin.Result)
	}
	root := client(t, token(session.Token.Value))

	// A typed answer.
	pres, err := root.V1ProfileRead(ctx, nil)
	profile := answer[*V1ProfileReadOK](t, pres, err)
	if me := profile.Result.Data.Value; me.Name != "root" || me.ID != session.Auth.UserID {
		t.Errorf("profile/read answered %+v, want root (user %s)", me, session.Auth.UserID)
	}

	// A struct parameter, and its typed answer.
	type createFields struct {
		Username    string          `json:"username"`
		Password    string          `json:"password"`
		Permissions map[string]bool `json:"permissions,omitempty"`
	}
	cres, err := root.V1AdminUsersCreate(ctx, params(t, createFields{"ann", "ann-password-1", map[string]bool{"admin": true}}))
	created := answer[*V1AdminUsersCreateOK](t, cres, err)
	ann := created.Result.Data.Value
	if ann.Name != "ann" || ann.ID == "" || !ann.Enabled || !ann.Permissions.Value["admin"] {
		t.Errorf("users/create answered %+v", ann)
	}

	gres, err := root.V1AdminUsersGetPermissions(ctx, params(t, "ann"))
	perms := answer[*V1AdminUsersGetPermissionsOK](t, gres, err)
	found := false
	for _, p := range perms.Result.Data.Value {
		found = found || (p.ID == "admin" && p.Enabled)
	}
	if !found {
		t.Errorf("users/get-permissions answered %+v, want admin enabled", perms.Result.Data.Value)
	}

	// A read: the rows and their count, or the one row options.id names.
	type readOptions struct {
		ID    string `json:"id,omitempty"`
		Limit int    `json:"limit,omitempty"`
	}
	rres, err := root.V1AdminUsersRead(ctx, params(t, readOptions{Limit: 10}))
	page := answer[*V1AdminUsersReadOK](t, rres, err)
	data, _ := page.Result.Data.Get()
	rows, ok := data.GetV1AdminUsersReadOKResultData0ItemArray()
	if !ok || len(rows) != 1 || rows[0].Name != "ann" || page.Result.Total.Or(0) != 1 {
		t.Errorf("users/read answered %+v (total %v), want the rows: ann", data, page.Result.Total)
	}
	rres, err = root.V1AdminUsersRead(ctx, params(t, readOptions{ID: ann.ID}))
	one := answer[*V1AdminUsersReadOK](t, rres, err)
	data, _ = one.Result.Data.Get()
	row, ok := data.GetV1AdminUsersReadOKResultData1()
	if !ok || row.ID != ann.ID || row.Name != "ann" || !row.Enabled {
		t.Errorf("users/read by options.id answered %+v, want ann by itself", data)
	}

	// Error answers, decoded as the error envelope.
	nres, err := root.V1AdminUsersGetPermissions(ctx, params(t, "nobody-here"))
	notFound := answer[*V1AdminUsersGetPermissionsNotFound](t, nres, err)
	if notFound.Error.Code != 404 || notFound.Error.Message == "" || notFound.Error.Data.Exception {
		t.Errorf("users/get-permissions of nobody answered %+v", notFound.Error)
	}
	// The client sends no call that needs a token without one; an unknown
	// token makes the caller a guest all the same.
	ures, err := client(t, "ses_unknown").V1AdminUsersRead(ctx, nil)
	refused := answer[*V1AdminUsersReadUnauthorized](t, ures, err)
	if refused.Error.Code != -32801 {
		t.Errorf("users/read by a guest answered %+v, want -32801", refused.Error)
	}
	// A status the method's responses do not list comes as the default.
	tres, err := root.V1AdminUsersCreate(ctx, params(t, createFields{Username: "ann", Password: "ann-password-2"}))
	var taken *FailureStatusCode
	if !errors.As(err, &taken) || taken.StatusCode != 409 || taken.Response.Error.Code != 409 {
		t.Errorf("creating ann twice: %T %+v, %v, want the 409 envelope", tres, tres, err)
	}
}
