package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// maxUserAgent bounds the user agent stored: a header may be as long as
// the server reads (1 MB by default), a trail row need not be.
const maxUserAgent = 512

// ResultOK is the result of a change that was made.
const ResultOK = "ok"

// Actor kinds, as rows name them.
const (
	ActorGuest   = "guest"   // nobody signed in (a mailed link's holder)
	ActorSession = "session" // a session opened by signing in
	ActorToken   = "token"   // an API token
	ActorHost    = "host"    // a principal with no session or token of ours: the host's own code
)

// row is a stored entry. Its queries name the table with
// ModelTableExpr(m.table), which carries the table prefix.
type row struct {
	bun.BaseModel `bun:"table:authrpc_audit,alias:a"`

	ID            int64     `bun:"id,pk,autoincrement"`
	Created       time.Time `bun:"created,notnull"`
	Action        string    `bun:"action,notnull"`
	ActorID       *int64    `bun:"actor_id"`
	ActorKind     string    `bun:"actor_kind,notnull"`
	ActorTokenID  *int64    `bun:"actor_token_id"`
	TargetID      *string   `bun:"target_id"`
	Changes       string    `bun:"changes,notnull"`
	RemoteAddress *string   `bun:"remote_address"`
	UserAgent     *string   `bun:"user_agent"`
	Result        string    `bun:"result,notnull"`
}

// Record stores e through db, which should be the transaction of the change
// it records, so that the entry is stored if and only if the change is; a
// refusal whose transaction rolled back is recorded through the database.
// The actor is auth.FromContext(ctx) (a guest when none); the client address
// and user agent are rpc.CallFromContext(ctx)'s, when ctx is a call's.
//
// Values of changes whose names hold "password", "secret" or "token" are
// stored as true unless they are booleans already: a safety net under the
// rule that a caller never passes a secret.
func (m *Module) Record(ctx context.Context, db bun.IDB, e Entry) error {
	if e.Action == "" {
		return fmt.Errorf("audit: record: an entry needs an action")
	}
	r := &row{
		Created: m.opts.Now().UTC().Truncate(time.Microsecond),
		Action:  e.Action,
		Result:  e.Result,
	}
	if r.Result == "" {
		r.Result = ResultOK
	}
	r.ActorKind, r.ActorID, r.ActorTokenID = actor(auth.FromContext(ctx))
	if e.Target != "" {
		r.TargetID = &e.Target
	}
	changes, err := encodeChanges(e.Changes)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	r.Changes = changes
	if c := rpc.CallFromContext(ctx); c != nil {
		if c.ClientAddr != "" {
			r.RemoteAddress = &c.ClientAddr
		}
		if c.UserAgent != "" {
			ua := cleanText(c.UserAgent, maxUserAgent)
			r.UserAgent = &ua
		}
	}
	if _, err := db.NewInsert().Model(r).ModelTableExpr(m.table).Exec(ctx); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// actor returns who p is as a row names it.
func actor(p *auth.Principal) (kind string, id, tokenID *int64) {
	if !p.Authenticated() {
		return ActorGuest, nil, nil
	}
	uid := p.UserID
	id = &uid
	if p.TokenID == 0 {
		return ActorHost, id, nil
	}
	tid := p.TokenID
	switch p.Kind {
	case auth.KindSession:
		return ActorSession, id, &tid
	case auth.KindAPIToken:
		return ActorToken, id, &tid
	}
	return string(p.Kind), id, &tid // a host authenticator's kind
}

// encodeChanges encodes changes as a JSON object, secrets masked.
func encodeChanges(changes map[string]any) (string, error) {
	if len(changes) == 0 {
		return "{}", nil
	}
	masked := make(map[string]any, len(changes))
	for k, v := range changes {
		if _, isBool := v.(bool); !isBool && secretName(k) {
			v = true
		}
		masked[k] = v
	}
	b, err := json.Marshal(masked)
	if err != nil {
		return "", fmt.Errorf("encode changes: %w", err)
	}
	return string(b), nil
}

// secretName reports whether a field's name says it holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "password") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

// cleanText makes s storable as text on both databases (valid UTF-8, no
// NUL, which PostgreSQL refuses) and cuts it to at most n bytes, at a
// rune's start.
func cleanText(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ID formats an id as entries' targets hold it.
func ID(id int64) string { return strconv.FormatInt(id, 10) }
