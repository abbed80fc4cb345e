package tokens_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/tokens"
	"github.com/authrpc/authrpc/users"
)

// Mount the module beside users, make a token as root, give it a
// permission and call an admin method with it.
func Example() {
	dir, err := os.MkdirTemp("", "tokens-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db")) // or a postgres:// URL
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	reg := rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
		Logger:      slog.New(slog.DiscardHandler),
	})
	u, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple", Out: io.Discard})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close(ctx)
	if _, err := tokens.Mount(ctx, reg, db, u, tokens.Options{}); err != nil {
		log.Fatal(err)
	}

	srv := httptest.NewServer(http.StripPrefix("/api", reg))
	defer srv.Close()

	// call answers the result's status (or the error's code) and decodes data.
	call := func(token, method, params string, data any) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api"+method, strings.NewReader(params))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		var answer struct {
			Result *struct {
				Status int             `json:"status"`
				Data   json.RawMessage `json:"data"`
			} `json:"result"`
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
			log.Fatal(err)
		}
		if answer.Error != nil {
			return answer.Error.Code
		}
		if data != nil {
			_ = json.Unmarshal(answer.Result.Data, data)
		}
		return answer.Result.Status
	}

	var session struct{ Token string }
	call("", "/v1/session/signin", `[{"username": "root", "password": "correct horse battery staple"}]`, &session)

	var tok struct {
		ID          string          `json:"id"`
		Name        string          `json:"name"`
		Token       string          `json:"token"`
		Permissions map[string]bool `json:"permissions"`
	}
	call(session.Token, "/v1/api-tokens/create", `["deploy bot"]`, &tok)
	fmt.Println(tok.ID, tok.Name, strings.HasPrefix(tok.Token, "tok_"), tok.Permissions)

	fmt.Println(call(tok.Token, "/v1/admin/users/read", ``, nil))
	fmt.Println(call(session.Token, "/v1/api-tokens/update-permissions", `["`+tok.ID+`", {"admin": true}]`, nil))
	fmt.Println(call(tok.Token, "/v1/admin/users/read", ``, nil))
	fmt.Println(call(session.Token, "/v1/api-tokens/set-enabled", `["`+tok.ID+`", false]`, nil))
	fmt.Println(call(tok.Token, "/v1/admin/users/read", ``, nil))
	// Output:
	// 1 deploy bot true map[admin:false]
	// -32801
	// 200
	// 200
	// 200
	// -32801
}
