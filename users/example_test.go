package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/users"
)

// Mount the module on a registry, serve it, and sign in as root.
func Example() {
	dir, err := os.MkdirTemp("", "users-example")
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
	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close(ctx)

	srv := httptest.NewServer(http.StripPrefix("/api", reg))
	defer srv.Close()

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
			Result struct {
				Data json.RawMessage `json:"data"`
			} `json:"result"`
		}
		if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
			log.Fatal(err)
		}
		if data != nil {
			_ = json.Unmarshal(answer.Result.Data, data)
		}
		return res.StatusCode
	}

	var signin struct {
		Token string `json:"token"`
		Auth  struct {
			UserID      string          `json:"user_id"`
			Username    string          `json:"username"`
			Permissions map[string]bool `json:"permissions"`
		} `json:"auth"`
	}
	call("", "/v1/session/signin", `[{"username": "root", "password": "correct horse battery staple"}]`, &signin)
	fmt.Println(signin.Auth.Username, signin.Auth.UserID, signin.Auth.Permissions, strings.HasPrefix(signin.Token, "ses_"))

	var created struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	call(signin.Token, "/v1/admin/users/create", `[{"username": "Alice", "permissions": {"admin": true}}]`, &created)
	fmt.Println(created.ID, created.Name, len(created.Password))
	// Output:
	// root 1 map[admin:true] true
	// 100 alice 20
}

// A module that keeps credentials of its own for users (here, just a
// print) ends them when a user's password is reset, in the transaction
// that stores the password. The tokens module deletes API tokens so.
func ExampleModule_OnCredentialsReset() {
	dir, err := os.MkdirTemp("", "users-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
		Logger:      slog.New(slog.DiscardHandler),
	})
	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close(ctx)

	mod.OnCredentialsReset(func(ctx context.Context, tx bun.Tx, r users.CredentialsReset) error {
		// A real module deletes its rows for r.UserID through tx.
		fmt.Println("credentials of user", r.UserID, "reset; by mail:", r.ByMail)
		return nil
	})

	post := func(token, method, params string) string {
		req := httptest.NewRequest(http.MethodPost, method, strings.NewReader(params))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		var answer struct {
			Result struct {
				Data struct {
					Token string `json:"token"`
				} `json:"data"`
			} `json:"result"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &answer)
		return answer.Result.Data.Token
	}
	root := post("", "/v1/session/signin", `[{"username": "root", "password": "correct horse battery staple"}]`)
	post(root, "/v1/admin/users/create", `[{"username": "alice", "password": "alice-password"}]`)
	post(root, "/v1/admin/users/set-password", `["alice", "alice-new-password"]`)
	// Output:
	// credentials of user 100 reset; by mail: false
}

// Manage users from Go, with the API's rules, and follow sign-ins; one
// reg.Shutdown stops the module.
func ExampleModule_Create() {
	ctx := context.Background()
	db, err := storage.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
		Logger:      slog.New(slog.DiscardHandler),
	})
	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Shutdown(ctx) // closes mod, which Mount handed to reg.OnShutdown
	mod.OnSignin(func(ctx context.Context, u *users.User) { fmt.Println("signed in:", u.Name) })

	alice, _, err := mod.Create(ctx, users.NewUser{Username: "Alice", Password: "alice's password", Email: "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(alice.Name, alice.Enabled)
	if err := mod.SetPermissions(ctx, alice.ID, map[string]bool{"admin": true}); err != nil {
		log.Fatal(err)
	}
	found, _ := mod.FindByEmail(ctx, "ALICE@example.com")
	fmt.Println(found.Name, mod.Permissions(found)["admin"])

	_, _, err = mod.Create(ctx, users.NewUser{Username: "bob", Password: "short"})
	fmt.Println(err)
	fmt.Println(mod.Delete(ctx, auth.RootUserID))

	w := httptest.NewRecorder()
	reg.ServeHTTP(w, httptest.NewRequest("POST", "/v1/session/signin",
		strings.NewReader(`[{"username":"alice","password":"alice's password"}]`)))
	// Output:
	// alice true
	// alice true
	// users: password must be at least 8 characters
	// users: the root user cannot be deleted
	// signed in: alice
}

// A host's own method administers users as its caller, with the module's
// rules: here a support desk's "disable", which refuses what
// /v1/admin/users/set-enabled refuses (nobody disables themselves, and
// administering takes the admin permission), with the same messages.
func ExampleModule_As() {
	ctx := context.Background()
	db, err := storage.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
		Logger:      slog.New(slog.DiscardHandler),
	})
	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Shutdown(ctx)

	reg.Section("/v1/support", "Support desk").Register(rpc.Method{
		ID: "disable", Title: "Disable a user", Permissions: []string{"admin"},
		Params: []rpc.Param{{Name: "username"}},
		Handler: func(ctx context.Context, name string) error {
			u, err := mod.FindByName(ctx, name)
			if err == nil {
				_, err = mod.As(auth.FromContext(ctx)).SetEnabled(ctx, u.ID, false)
			}
			var refused *users.Error
			switch {
			case errors.Is(err, users.ErrNotFound):
				return rpc.NotFound("no user %s", rpc.Quote(name))
			case errors.As(err, &refused):
				return rpc.Forbidden("%s", refused.Message)
			}
			return err
		},
	})

	if _, _, err := mod.Create(ctx, users.NewUser{Username: "bob", Password: "bob's password"}); err != nil {
		log.Fatal(err)
	}
	ann, _, err := mod.Create(ctx, users.NewUser{Username: "ann", Password: "ann's password", Permissions: map[string]bool{"admin": true}})
	if err != nil {
		log.Fatal(err)
	}
	s, err := mod.SignIn(ctx, users.SignIn{Username: "ann", Password: "ann's password", Addr: "192.0.2.1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.User.Name == ann.Name, s.Expires.Sub(s.Created))

	call := func(params string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/support/disable", strings.NewReader(params))
		req.Header.Set("Authorization", "Bearer "+s.Token)
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		fmt.Println(strings.TrimSpace(w.Body.String()))
	}
	call(`["bob"]`)
	call(`["ann"]`)

	// Without the admin permission, the operation refuses too.
	bob, _ := mod.FindByName(ctx, "bob")
	_, err = mod.As(&auth.Principal{UserID: bob.ID, Kind: auth.KindSession}).SetEnabled(ctx, ann.ID, false)
	fmt.Println(errors.Is(err, users.ErrForbidden), err)
	// Output:
	// true 720h0m0s
	// {"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}
	// {"jsonrpc":"2.0","error":{"code":403,"message":"you cannot disable yourself","data":{"exception":false,"meta":{}}}}
	// true users: administering users takes permission "admin"
}

// A second factor from Go: enrol TOTP for a user, then sign in with the
// password, which asks for a code, and complete the sign-in with one.
func ExampleModule_CompleteSignIn() {
	ctx := context.Background()
	db, err := storage.Open(ctx, ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
		Logger:      slog.New(slog.DiscardHandler),
	})
	keys, err := settings.ParseKeyring(settings.GenerateKey()) // the settings module's keys
	if err != nil {
		log.Fatal(err)
	}
	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: "correct horse battery staple", Keyring: keys})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Shutdown(ctx)

	bob, _, err := mod.Create(ctx, users.NewUser{Username: "bob", Password: "bob's password"})
	if err != nil {
		log.Fatal(err)
	}
	s, err := mod.SignIn(ctx, users.SignIn{Username: "bob", Password: "bob's password", Addr: "192.0.2.1"})
	if err != nil {
		log.Fatal(err)
	}
	as := mod.As(&auth.Principal{UserID: bob.ID, Kind: auth.KindSession, TokenID: s.ID})
	en, err := as.BeginTOTP(ctx) // the API asks for a recent authorization first
	if err != nil {
		log.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, time.Now()) // what the authenticator app shows
	recovery, err := as.ConfirmTOTP(ctx, code)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(recovery), "recovery codes")

	_, err = mod.SignIn(ctx, users.SignIn{Username: "bob", Password: "bob's password", Addr: "192.0.2.1"})
	var refused *users.Error
	if !errors.As(err, &refused) || refused.SecondFactor == nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(err, users.ErrUnauthenticated), refused.SecondFactor.Methods)

	// The code just used is spent: the app's next one.
	code, _ = totp.GenerateCode(en.Secret, time.Now().Add(30*time.Second))
	s, err = mod.CompleteSignIn(ctx, users.SecondFactorSignIn{
		Token:       refused.SecondFactor.Token,
		Credentials: users.Credentials{"totp_code": json.RawMessage(`"` + code + `"`)},
		Addr:        "192.0.2.1",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.User.Name, strings.HasPrefix(s.Token, "ses_"))
	// Output:
	// 10 recovery codes
	// true [recovery_code totp]
	// bob true
}
