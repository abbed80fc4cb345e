package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// GitHub stands in for GitHub's OAuth app endpoints and REST API on
// 127.0.0.1: the authorization endpoint (which signs in as the user
// Authorize names, with no page), the token endpoint (checking the client,
// the redirect URL and PKCE; a code works once), /user and /user/emails.
type GitHub struct {
	// URL is the server's base: AuthURL is URL+"/login/oauth/authorize",
	// TokenURL URL+"/login/oauth/access_token", APIURL URL.
	URL string

	clientID, secret string

	mu     sync.Mutex
	users  map[string]GitHubUser // by login
	codes  map[string]grant      // unused codes
	tokens map[string]string     // access token → login
	as     string                // who the authorization endpoint signs in as
}

// GitHubUser is an account at the stand-in.
type GitHubUser struct {
	ID     int64
	Login  string
	Emails []GitHubEmail
}

// GitHubEmail is a row of /user/emails.
type GitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type grant struct {
	login, redirectURL, challenge string
}

// NewGitHub starts the stand-in for one OAuth app, clientID with secret;
// t's cleanup stops it.
func NewGitHub(t testing.TB, clientID, secret string, users ...GitHubUser) *GitHub {
	g := &GitHub{clientID: clientID, secret: secret, users: map[string]GitHubUser{}, codes: map[string]grant{}, tokens: map[string]string{}}
	for _, u := range users {
		g.users[u.Login] = u
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.token)
	mux.HandleFunc("GET /user", g.user)
	mux.HandleFunc("GET /user/emails", g.emails)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// SignInAs makes the authorization endpoint sign in as login.
func (g *GitHub) SignInAs(login string) {
	g.mu.Lock()
	g.as = login
	g.mu.Unlock()
}

// Authorize answers the code and state the authorization endpoint sends
// the browser back with for authURL, signed in as login, as if the browser
// had followed it.
func (g *GitHub) Authorize(authURL, login string) (code, state string, err error) {
	g.SignInAs(login)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", "", err
	}
	return loc.Query().Get("code"), loc.Query().Get("state"), nil
}

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != g.clientID || q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	code := random()
	g.codes[code] = grant{login: g.as, redirectURL: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	g.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		// GitHub answers 200 with an error field.
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if id != g.clientID || secret != g.secret {
		fail("incorrect_client_credentials")
		return
	}
	code := r.PostForm.Get("code")
	g.mu.Lock()
	gr, ok := g.codes[code]
	delete(g.codes, code)
	g.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case !ok:
		fail("bad_verification_code")
		return
	case gr.redirectURL != r.PostForm.Get("redirect_uri"):
		fail("redirect_uri_mismatch")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != gr.challenge:
		fail("bad_verification_code")
		return
	}
	tok := "gho_" + random()
	g.mu.Lock()
	g.tokens[tok] = gr.login
	g.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
}

func (g *GitHub) caller(w http.ResponseWriter, r *http.Request) (GitHubUser, bool) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	u, ok := g.users[g.tokens[tok]]
	g.mu.Unlock()
	if !ok {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
	}
	return u, ok
}

func (g *GitHub) user(w http.ResponseWriter, r *http.Request) {
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "node_id": "U_" + strconv.FormatInt(u.ID, 10)})
}

func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	emails := u.Emails
	if emails == nil {
		emails = []GitHubEmail{}
	}
	_ = json.NewEncoder(w).Encode(emails)
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
