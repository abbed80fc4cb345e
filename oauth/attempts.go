package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/authrpc/authrpc/internal/quote"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/oauth2"

	"github.com/authrpc/authrpc/storage"
)

// An attempt is stored, by the digest of its state only, in the database,
// so that any instance completes what another began; it is deleted as it
// is completed, so a state is used once, and it expires after AttemptTTL.
// The PKCE verifier and the nonce never leave the server: the browser
// carries the state alone.
func migrations(prefix string) []storage.Migration {
	return []storage.Migration{
		{Version: 1, Name: "create authrpc_oauth_attempts", Up: storage.SQL(
			storage.Prefixed(prefix, `CREATE TABLE {prefix}authrpc_oauth_attempts (
	digest       BYTEA       PRIMARY KEY,
	provider     TEXT        NOT NULL,
	redirect_url TEXT        NOT NULL,
	verifier     TEXT        NOT NULL,
	nonce        TEXT        NOT NULL,
	expires      TIMESTAMPTZ NOT NULL
);
CREATE INDEX {prefix}authrpc_oauth_attempts_expires_idx ON {prefix}authrpc_oauth_attempts (expires)`),
			storage.Prefixed(prefix, `CREATE TABLE {prefix}authrpc_oauth_attempts (
	digest       BLOB      PRIMARY KEY,
	provider     TEXT      NOT NULL,
	redirect_url TEXT      NOT NULL,
	verifier     TEXT      NOT NULL,
	nonce        TEXT      NOT NULL,
	expires      TIMESTAMP NOT NULL
);
CREATE INDEX {prefix}authrpc_oauth_attempts_expires_idx ON {prefix}authrpc_oauth_attempts (expires)`),
		)},
	}
}

type attemptRow struct {
	bun.BaseModel `bun:"table:authrpc_oauth_attempts,alias:a"`

	Digest      []byte    `bun:"digest,pk"`
	Provider    string    `bun:"provider,notnull"`
	RedirectURL string    `bun:"redirect_url,notnull"`
	Verifier    string    `bun:"verifier,notnull"`
	Nonce       string    `bun:"nonce,notnull"`
	Expires     time.Time `bun:"expires,notnull"`
}

func stateDigest(state string) []byte {
	sum := sha256.Sum256([]byte("authrpc oauth state\x00" + state))
	return sum[:]
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthURL begins an attempt to sign in through the named provider, which
// is to send the browser back to redirectURL (one of Config.RedirectURLs,
// exactly), and answers the URL to send the browser to: it carries a new
// state, a PKCE challenge (S256) and, for OpenID Connect, a nonce, bound
// to this attempt for Options.AttemptTTL. Refusals are *Error.
func (m *Module) AuthURL(ctx context.Context, provider, redirectURL string) (string, error) {
	c, err := m.Config(ctx)
	if err != nil {
		return "", err
	}
	if _, ok := c.Providers[provider]; !ok {
		return "", invalid("unknown OAuth provider %s", quote.Short(provider))
	}
	if !c.allowsRedirect(redirectURL) {
		return "", invalid("redirect URL %s is not one the host allows", quote.Short(redirectURL))
	}
	f, err := m.flow(ctx, c, provider)
	if err != nil {
		return "", err
	}
	state := randomString()
	a := attempt{provider: provider, redirectURL: redirectURL, verifier: oauth2.GenerateVerifier(), nonce: randomString()}
	now := m.now().UTC()
	row := &attemptRow{Digest: stateDigest(state), Provider: provider, RedirectURL: redirectURL,
		Verifier: a.verifier, Nonce: a.nonce, Expires: now.Add(m.opts.AttemptTTL).Truncate(time.Microsecond)}
	// Expired attempts go as new ones come: the table holds about
	// AttemptTTL's worth of them.
	if _, err := m.db.NewDelete().Model((*attemptRow)(nil)).ModelTableExpr(m.table).Where("expires <= ?", now).Exec(ctx); err != nil {
		return "", fmt.Errorf("oauth: delete expired attempts: %w", err)
	}
	if _, err := m.db.NewInsert().Model(row).ModelTableExpr(m.table).Exec(ctx); err != nil {
		return "", fmt.Errorf("oauth: store attempt: %w", err)
	}
	return f.authURL(a, state), nil
}

// Credentials are what the provider sent the browser back with, and where
// to: the oauth_* fields of a credentials object.
type Credentials struct {
	Provider    string `json:"oauth_provider"`
	Code        string `json:"oauth_code"`
	RedirectURL string `json:"oauth_redirect_url"`
	State       string `json:"oauth_state"`
}

// Exchange completes the attempt of c.State: the attempt is used up
// whatever the outcome, so a state and the code it carries complete once.
// The provider, redirect URL and state must be the attempt's; the code is
// exchanged with its PKCE verifier, and an ID token's signature, issuer,
// audience, expiry and nonce are checked. Refusals are *Error.
func (m *Module) Exchange(ctx context.Context, c Credentials) (*Identity, error) {
	switch {
	case c.Provider == "":
		return nil, invalid("oauth_provider is required")
	case c.Code == "":
		return nil, invalid("oauth_code is required")
	case c.State == "":
		return nil, invalid("oauth_state is required: the state the provider sent back")
	case c.RedirectURL == "":
		return nil, invalid("oauth_redirect_url is required")
	}
	cfg, err := m.Config(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.Providers[c.Provider]; !ok {
		return nil, invalid("unknown OAuth provider %s", quote.Short(c.Provider))
	}
	if !cfg.allowsRedirect(c.RedirectURL) {
		return nil, invalid("redirect URL %s is not one the host allows", quote.Short(c.RedirectURL))
	}
	row, err := m.take(ctx, c.State)
	if err != nil {
		return nil, err
	}
	if row == nil || !m.now().Before(row.Expires) {
		return nil, refused(nil, "unknown, used or expired OAuth state: begin the sign-in again")
	}
	if row.Provider != c.Provider || row.RedirectURL != c.RedirectURL {
		return nil, refused(nil, "the OAuth state belongs to another provider or redirect URL: begin the sign-in again")
	}
	f, err := m.flow(ctx, cfg, c.Provider)
	if err != nil {
		return nil, err
	}
	return f.exchange(ctx, attempt{provider: row.Provider, redirectURL: row.RedirectURL, verifier: row.Verifier, nonce: row.Nonce}, c.Code)
}

// take deletes the attempt of state and answers it, or nil. Of two
// instances completing one state, one deletes it.
func (m *Module) take(ctx context.Context, state string) (*attemptRow, error) {
	row := new(attemptRow)
	err := m.db.NewDelete().Model(row).ModelTableExpr(m.table).Where("digest = ?", stateDigest(state)).Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: take attempt: %w", err)
	}
	return row, nil
}
