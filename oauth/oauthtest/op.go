// Package oauthtest runs providers for tests of sign-in through OAuth: a
// real OpenID Provider in process (zitadel/oidc's OP, with discovery, keys,
// authorization and token endpoints, and its login page) and a stand-in for
// GitHub's authorization, token, user and emails endpoints, each on a
// loopback port.
package oauthtest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account at a provider.
type User struct {
	Subject       string // the OP's sub; GitHub's numeric id
	Username      string // what the login page takes; GitHub's login
	Password      string
	Email         string
	EmailVerified bool
}

// OP is an OpenID Provider on 127.0.0.1.
type OP struct {
	// Issuer is the OP's URL, where discovery is.
	Issuer string

	srv     *httptest.Server
	clients map[string]*storage.Client
	secrets map[string]string

	mu       sync.Mutex
	swapFrom string // a client id the OP is told is swapTo
	swapTo   string
	nonce    string // replaces the nonce of authorization requests
}

// NewOP starts an OP that knows users and one client, clientID with
// secret, which may redirect to any of redirectURLs; t's cleanup stops it.
func NewOP(t testing.TB, clientID, secret string, redirectURLs []string, users ...User) *OP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &OP{Issuer: "http://" + ln.Addr().String(), clients: map[string]*storage.Client{}, secrets: map[string]string{}}
	o.AddClient(clientID, secret, redirectURLs...)
	st := storage.NewStorageWithClients(userStore(users), o.clients)
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      sha256.Sum256([]byte(secret)),
		CodeMethodS256: true,
		AuthMethodPost: true,
	}, st, op.StaticIssuer(o.Issuer),
		op.WithAllowInsecure(), op.WithCustomAuthEndpoint(op.NewEndpoint("auth")),
		op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login/username", loginPage(st, op.AuthCallbackURL(provider), op.NewIssuerInterceptor(provider.IssuerFromRequest)))
	mux.Handle("/", provider)
	o.srv = httptest.NewUnstartedServer(o.swap(mux))
	o.srv.Listener.Close()
	o.srv.Listener = ln
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	return o
}

// AddClient registers another client; call it before the OP is used.
func (o *OP) AddClient(clientID, secret string, redirectURLs ...string) {
	o.clients[clientID] = storage.WebClient(clientID, secret, redirectURLs...)
	o.secrets[clientID] = secret
}

// ForgeNonce makes the OP take every authorization request as if it
// carried nonce: its ID tokens then carry nonce, not the client's. Empty
// stops it.
func (o *OP) ForgeNonce(nonce string) {
	o.mu.Lock()
	o.nonce = nonce
	o.mu.Unlock()
}

// ImpersonateClient makes the OP take every request of client from as one
// of client to (authorization and token requests alike): it then issues ID
// tokens whose audience is to, for a client that asked as from. It is an
// OP that is not to be trusted, or a code stolen from another client.
func (o *OP) ImpersonateClient(from, to string) {
	o.mu.Lock()
	o.swapFrom, o.swapTo = from, to
	o.mu.Unlock()
}

func (o *OP) swap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		from, to, nonce := o.swapFrom, o.swapTo, o.nonce
		o.mu.Unlock()
		if nonce != "" && r.URL.Query().Get("nonce") != "" {
			q := r.URL.Query()
			q.Set("nonce", nonce)
			r.URL.RawQuery = q.Encode()
		}
		if from != "" {
			q := r.URL.Query()
			if q.Get("client_id") == from {
				q.Set("client_id", to)
				r.URL.RawQuery = q.Encode()
			}
			if id, _, ok := r.BasicAuth(); ok && id == from {
				r.SetBasicAuth(to, o.secrets[to])
			}
			if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" {
				_ = r.ParseForm()
				if r.PostForm.Get("client_id") == from {
					r.PostForm.Set("client_id", to)
					r.PostForm.Set("client_secret", o.secrets[to])
				}
				body := r.PostForm.Encode()
				r.Body = nopCloser{strings.NewReader(body)}
				r.ContentLength = int64(len(body))
				r.Form = nil
				r.PostForm = nil
			}
		}
		next.ServeHTTP(w, r)
	})
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// SignIn follows authURL as a browser would, signs in at the OP's login
// page as username with password, and answers the code and state the OP
// sends the browser back with (the redirect URL is not visited).
func (o *OP) SignIn(ctx context.Context, authURL, username, password string) (code, state string, err error) {
	jar, _ := cookiejar.New(nil)
	var back *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), o.Issuer+"/") {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	get := func(u string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		return c.Do(req)
	}
	resp, err := get(authURL)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	if back != nil { // the OP refused at once, back to the client with an error
		return "", "", fmt.Errorf("oauthtest: the OP sent the browser back: %s", back.RawQuery)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		return "", "", fmt.Errorf("oauthtest: the OP did not show its login page (at %s, status %d)", resp.Request.URL, resp.StatusCode)
	}
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Issuer+"/login/username", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	if back == nil {
		return "", "", fmt.Errorf("oauthtest: the OP did not send the browser back (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	q := back.Query()
	if e := q.Get("error"); e != "" {
		return "", "", fmt.Errorf("oauthtest: the OP answered %s: %s", e, q.Get("error_description"))
	}
	return q.Get("code"), q.Get("state"), nil
}

// userStore is storage.UserStore over a list.
type userStore []User

func (s userStore) user(match func(User) bool) *storage.User {
	for _, u := range s {
		if match(u) {
			return &storage.User{ID: u.Subject, Username: u.Username, Password: u.Password, FirstName: u.Username,
				Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
		}
	}
	return nil
}

func (s userStore) GetUserByID(id string) *storage.User {
	return s.user(func(u User) bool { return u.Subject == id })
}

func (s userStore) GetUserByUsername(name string) *storage.User {
	return s.user(func(u User) bool { return u.Username == name })
}

func (s userStore) ExampleClientID() string { return "" }

var loginForm = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Test OP: sign in</title></head>
<body><form method="POST" action="/login/username">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<p id="error">{{.Error}}</p>
<button id="submit" type="submit">Sign in</button>
</form></body></html>`))

// loginPage is the OP's login page: the form, and its check, which sends
// the browser on to the OP's callback.
func loginPage(st *storage.Storage, callback func(context.Context, string) string, issuer *op.IssuerInterceptor) http.Handler {
	return issuer.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id := r.FormValue("authRequestID")
		var msg string
		if r.Method == http.MethodPost {
			id = r.FormValue("id")
			err := st.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id)
			if err == nil {
				http.Redirect(w, r, callback(r.Context(), id), http.StatusFound)
				return
			}
			msg = err.Error()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginForm.Execute(w, struct{ ID, Error string }{id, msg})
	})
}
