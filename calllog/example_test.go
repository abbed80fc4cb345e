package calllog_test

import (
	"bytes"
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
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// A host mounts the call log beside its own methods; every call is then
// logged, and an admin reads the log and the statistics.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "calllog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db")) // or a postgres:// URL
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	quiet := slog.New(slog.DiscardHandler)
	reg := rpc.New(rpc.Options{
		Logger:      quiet,
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
	})
	// The users module normally resolves tokens; here one fixed admin token.
	token, digest, err := auth.NewToken(auth.KindAPIToken)
	if err != nil {
		log.Fatal(err)
	}
	reg.Auth().Handle(auth.KindAPIToken, auth.AuthenticatorFunc(func(ctx context.Context, t string) (*auth.Principal, error) {
		if bytes.Equal(auth.Digest(t), digest) {
			return &auth.Principal{UserID: 2, Username: "admin", Kind: auth.KindAPIToken, Permissions: map[string]bool{"admin": true}}, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil },
	})
	calls, err := calllog.Mount(ctx, reg, db, calllog.Options{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/api", reg))
	defer srv.Close()

	post := func(method, body string) []byte {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api"+method, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return b
	}
	post("/v1/hello", `["world"]`)
	post("/v1/hello", `[42]`) // -32808: logged as an error

	// At shutdown: the registry first, then the call log, which writes what
	// is still queued.
	if err := reg.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
	if err := calls.Close(ctx); err != nil {
		log.Fatal(err)
	}

	var page struct {
		Result struct {
			Data []struct {
				UserID  string `json:"user_id"`
				Status  int    `json:"status"`
				IsError bool   `json:"is_error"`
			} `json:"data"`
			Meta struct {
				Total int `json:"total"`
			} `json:"meta"`
		} `json:"result"`
	}
	out := post(calllog.Prefix+"/read-log", `[{"where": {"method_id": "/v1/hello"}}]`)
	if err := json.Unmarshal(out, &page); err != nil {
		log.Fatal(err)
	}
	fmt.Println("total:", page.Result.Meta.Total)
	for _, r := range page.Result.Data {
		fmt.Println(r.UserID, r.Status, r.IsError)
	}

	var stats struct {
		Result struct {
			Data struct {
				Buckets []calllog.Bucket `json:"buckets"`
			} `json:"data"`
		} `json:"result"`
	}
	if err := json.Unmarshal(post(calllog.Prefix+"/read-history-stat", `"/v1/hello"`), &stats); err != nil {
		log.Fatal(err)
	}
	var accepted, errs int64
	for _, b := range stats.Result.Data.Buckets {
		accepted += b.TotalAccepted
		errs += b.TotalErrors
	}
	fmt.Println("buckets:", len(stats.Result.Data.Buckets), "accepted:", accepted, "errors:", errs)
	// Output:
	// total: 2
	// 2 -32808 true
	// 2 200 false
	// buckets: 4320 accepted: 2 errors: 1
}
