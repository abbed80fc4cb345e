package oauth_test

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/oauth/oauthtest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

const (
	redirectURL = "http://127.0.0.1:1/oauth/callback"
	clientID    = "authrpc-test"
	secret      = "s3cret-of-the-client"
)

var (
	alice = oauthtest.User{Subject: "sub-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true}
	carl  = oauthtest.User{Subject: "sub-carl", Username: "carl", Password: "carl-pw", Email: "carl@example.com"}

	octo = oauthtest.GitHubUser{ID: 583231, Login: "octocat", Emails: []oauthtest.GitHubEmail{
		{Email: "octo@old.example", Primary: false, Verified: true},
		{Email: "octo@example.com", Primary: true, Verified: true},
	}}
)

// env is an OP, a GitHub stand-in and the module mounted with both, on a
// registry called through rpctest.
type env struct {
	op    *oauthtest.OP
	gh    *oauthtest.GitHub
	mod   *oauth.Module
	c     *rpctest.Client
	clock *fakeclock.Clock
	logs  *logbuf.Buffer
}

// newClock returns a fake clock at the wall clock's time: the OP signs
// its tokens by the wall clock, and they are checked by this one.
func newClock() *fakeclock.Clock {
	c := fakeclock.New()
	c.Advance(-time.Until(fakeclock.Start))
	return c
}

func newEnv(t *testing.T, db *bun.DB, edit func(*oauth.Options)) *env {
	t.Helper()
	e := &env{clock: newClock(), logs: new(logbuf.Buffer)}
	e.op = oauthtest.NewOP(t, clientID, secret, []string{redirectURL}, alice, carl)
	e.gh = oauthtest.NewGitHub(t, "gh-client", "gh-secret", octo)
	opts := oauth.Options{
		Config: oauth.Config{
			Providers: map[string]oauth.Provider{
				"op":     {Type: oauth.TypeOIDC, Issuer: e.op.Issuer, ClientID: clientID, ClientSecret: secret},
				"github": {Type: oauth.TypeGitHub, ClientID: "gh-client", ClientSecret: "gh-secret", AuthURL: e.gh.URL + "/login/oauth/authorize", TokenURL: e.gh.URL + "/login/oauth/access_token", APIURL: e.gh.URL},
			},
			RedirectURLs: []string{redirectURL},
		},
		Now: e.clock.Now,
	}
	if edit != nil {
		edit(&opts)
	}
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	var err error
	e.mod, err = oauth.Mount(context.Background(), reg, db, opts)
	require.NoError(t, err)
	e.c = rpctest.New(reg)
	return e
}

// authURL calls oauth-url and answers the URL.
func (e *env) authURL(t *testing.T, provider string) *url.URL {
	t.Helper()
	a := e.c.Call(t, "/v1/session/oauth-url", provider, redirectURL)
	require.Equal(t, 200, a.Code, a.Raw)
	var out struct{ URL string }
	a.Decode(t, &out)
	u, err := url.Parse(out.URL)
	require.NoError(t, err)
	return u
}

// signIn begins an attempt and signs in at the OP as u: the code and state.
func (e *env) signIn(t *testing.T, u oauthtest.User) (code, state string) {
	t.Helper()
	code, state, err := e.op.SignIn(context.Background(), e.authURL(t, "op").String(), u.Username, u.Password)
	require.NoError(t, err)
	return code, state
}

func creds(provider, code, state string) oauth.Credentials {
	return oauth.Credentials{Provider: provider, Code: code, State: state, RedirectURL: redirectURL}
}

func newRegistry() *rpc.Registry { return rpc.New(rpc.Options{}) }
