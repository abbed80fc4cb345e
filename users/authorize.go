package users

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/authrpc/authrpc/auth"
)

// Step-up: a signed-in session proves again who it is, and may then call
// the methods that require a recent authorization (rpc.Method's
// RequireAuthorization) for rpc.Options.AuthorizedMaxAge.

// Credentials are what a caller proves who it is with: the JSON object
// /v1/session/authorize takes, field by field, each as it was sent.
// {"password": "…"} is checked by the module; the other kinds
// ({"totp_code"}, {"recovery_code"}, {"passkey", "challenge_token"},
// {"oauth_provider", "oauth_code", …}) by the Verifier added for them.
type Credentials map[string]json.RawMessage

// PasswordCredentials are credentials of a password, for calling Authorize
// from Go.
func PasswordCredentials(password string) Credentials {
	b, _ := json.Marshal(password) // a string always marshals
	return Credentials{"password": b}
}

// String returns field name as a string: ok is false when it was not sent;
// a value that is not a string is ErrInvalid.
func (c Credentials) String(name string) (s string, ok bool, err error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, refuse(ErrInvalid, "credentials: %s must be a string", name)
	}
	return s, true, nil
}

// Verifier checks one kind of credentials for a user: a second factor, a
// passkey, an OAuth provider's code. Module.AddVerifier plugs it into
// Authorize (and so /v1/session/authorize) beside the password.
//
// A Verifier with a Method is a second factor (see secondfactor.go): once
// Enrolled says a user has it, a sign-in of that user with a correct
// password (or through OAuth) opens no session but answers
// ErrUnauthenticated with Error.SecondFactor, a short-lived single-use
// token and the Methods the user may complete with; Module.CompleteSignIn
// (/v1/session/signin with {second_factor_token, <Field>, <Fields>…})
// then dispatches the credentials to the verifier by Field, as Authorize
// does. A passkey plugs in as
//
//	m.AddVerifier(users.Verifier{
//		Field: "passkey", Fields: []string{"challenge_token"},
//		Method: "passkey", Enrolled: hasPasskey, Verify: verifyAssertion,
//	})
//
// and from then on counts in both, with nothing else to register. Its
// Verify runs after the sign-in limits took the attempt (a refusal is a
// failed sign-in) and must itself make a credential single-use where it
// matters (a TOTP code's time step, a recovery code, a challenge).
type Verifier struct {
	// Field is the credentials' field that says they are this verifier's:
	// "totp_code", "recovery_code", "passkey", "oauth_code". Credentials
	// name exactly one verifier's field.
	Field string
	// Fields are the other fields it reads ("challenge_token" beside
	// "passkey"), which no other verifier's credentials may carry.
	Fields []string
	// Verify returns nil when creds prove that the caller is user; a
	// refusal (*Error) otherwise: ErrUnauthenticated for credentials that
	// do not prove it, ErrInvalid for malformed ones. Any other error is a
	// failure. It runs after the rate limits of sign-in have taken the
	// attempt, and a nil answer refills them for the caller's address.
	Verify func(ctx context.Context, user *User, creds Credentials) error
	// Method, when set, makes the verifier a second factor, named so in
	// the second_factor.methods of a refused sign-in: "totp",
	// "recovery_code", "passkey". Empty: a first factor only (password,
	// OAuth), which CompleteSignIn refuses.
	Method string
	// Enrolled reports whether user has this factor: a second factor's
	// Method is offered, and its credentials taken, only for users it
	// says yes for. Required with Method.
	Enrolled func(ctx context.Context, user *User) (bool, error)
}

// verifiers are the kinds of credentials Authorize takes, by Field.
type verifiers struct {
	mu     sync.RWMutex
	byName map[string]Verifier
}

func (vs *verifiers) add(v Verifier) {
	if v.Field == "" || v.Verify == nil {
		panic("users: AddVerifier: a Verifier needs a Field and a Verify")
	}
	if v.Method != "" && v.Enrolled == nil {
		panic("users: AddVerifier: a second factor (Method) needs Enrolled")
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.byName == nil {
		vs.byName = map[string]Verifier{}
	}
	for _, f := range append([]string{v.Field}, v.Fields...) {
		if vs.owner(f) != "" || f == secondFactorTokenField {
			panic(fmt.Sprintf("users: AddVerifier: credentials field %q is taken", f))
		}
	}
	vs.byName[v.Field] = v
}

// owner is the Field of the verifier that reads field f, or "".
func (vs *verifiers) owner(f string) string {
	for name, v := range vs.byName {
		if name == f || slices.Contains(v.Fields, f) {
			return name
		}
	}
	return ""
}

// pick returns the one verifier creds are for, or refuses them.
func (vs *verifiers) pick(creds Credentials) (Verifier, error) {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	var found []string
	var unknown []string
	for f := range creds {
		switch owner := vs.owner(f); {
		case owner == "":
			unknown = append(unknown, f)
		case owner == f:
			found = append(found, f)
		}
	}
	sort.Strings(unknown)
	sort.Strings(found)
	switch {
	case len(unknown) > 0:
		return Verifier{}, refuse(ErrInvalid, "credentials: unknown field %s (accepted: %s)", quoteList(unknown), vs.accepted())
	case len(found) == 0:
		return Verifier{}, refuse(ErrInvalid, "credentials: send one of %s", vs.accepted())
	case len(found) > 1:
		return Verifier{}, refuse(ErrInvalid, "credentials: send one of %s, not several", quoteList(found))
	}
	v := vs.byName[found[0]]
	for f := range creds {
		if f != v.Field && !slices.Contains(v.Fields, f) {
			return Verifier{}, refuse(ErrInvalid, "credentials: %s does not go with %s", quoteList([]string{f}), quoteList([]string{v.Field}))
		}
	}
	return v, nil
}

func (vs *verifiers) accepted() string {
	names := make([]string, 0, len(vs.byName))
	for name := range vs.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// AddVerifier lets Authorize (and /v1/session/authorize) take another kind
// of credentials, checked by v; with a Method, also CompleteSignIn, and
// sign-ins of the users it is Enrolled for then need it (see Verifier). It
// panics when v has no Field or Verify, has a Method but no Enrolled, or
// reads a field another verifier reads ("password" is the module's,
// "second_factor_token" CompleteSignIn's).
func (m *Module) AddVerifier(v Verifier) { m.verifiers.add(v) }

// verifyPassword is the built-in Verifier of {"password"}.
func (m *Module) verifyPassword(ctx context.Context, u *User, creds Credentials) error {
	pw, _, err := creds.String("password")
	if err != nil {
		return err
	}
	row, err := m.load(ctx, u.ID)
	if err != nil {
		return err
	}
	ctx = auth.WithHashClaim(ctx, auth.HashClaim{Key: auth.AddrKey(clientAddr(ctx)), Priority: auth.HashPriorityHigh})
	if row.PasswordHash == "" {
		if err := m.hasher.VerifyDummy(ctx, pw); err != nil {
			return fmt.Errorf("users: authorize: %w", err)
		}
		return refuse(ErrUnauthenticated, "Bad credentials")
	}
	ok, err := m.hasher.Verify(ctx, pw, row.PasswordHash)
	if err != nil {
		return fmt.Errorf("users: authorize: user %d: %w", u.ID, err)
	}
	if !ok {
		return refuse(ErrUnauthenticated, "Bad credentials")
	}
	return nil
}

// Authorize checks creds for the actor's session and marks it authorized
// now: for rpc.Options.AuthorizedMaxAge the session may call the methods
// that require a recent authorization, on every instance (its cached
// callers are refreshed; its sockets stay open). addr is the client's
// address, for the rate limits, which are sign-in's: the pair of the
// user's name and the address, and the address alone. A wrong credential
// is ErrUnauthenticated; an API token is ErrForbidden, as it never
// authorizes; a guest is ErrUnauthenticated.
func (a Actor) Authorize(ctx context.Context, creds Credentials, addr string) error {
	p := a.by
	switch {
	case !p.Authenticated():
		return refuse(ErrUnauthenticated, "Not authenticated")
	case p.Kind == auth.KindAPIToken:
		return refuse(ErrForbidden, "an API token cannot authorize: sign in and authorize the session")
	case p.Kind != auth.KindSession || p.TokenID == 0:
		return refuse(ErrForbidden, "only a session can be authorized")
	}
	m := a.m
	v, err := m.verifiers.pick(creds)
	if err != nil {
		return err
	}
	row, err := m.load(ctx, p.UserID)
	if err != nil {
		return err
	}
	if err := m.checkEnrolled(ctx, v, row.user()); err != nil {
		return err
	}
	keys := signinKeys(row.Name, addr)
	if err := m.signinLim.check(ctx, keys); err != nil {
		return err
	}
	if err := v.Verify(ctx, row.user(), creds); err != nil {
		return err
	}
	m.signinLim.succeeded(ctx, m.log, keys)
	res, err := m.db.NewUpdate().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).
		Set("authorized = ?", m.stamp()).
		Where("id = ? AND user_id = ?", p.TokenID, p.UserID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: authorize session %d: %w", p.TokenID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return refuse(ErrUnauthenticated, "Not authenticated") // signed out meanwhile
	}
	m.reg.Auth().Invalidate(auth.Invalidation{UserID: p.UserID, Kind: auth.KindSession, TokenID: p.TokenID, Refresh: true})
	return nil
}
