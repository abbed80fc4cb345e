package users

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// Sign-in in two steps (SPEC §10): a user whom a second factor's Verifier
// says is Enrolled gets no session for a correct password alone. SignIn
// (and SignInOAuth) refuse with ErrUnauthenticated carrying a
// SecondFactor: a token (auth.KindSecondFactor, stored by digest in
// user_tokens like the mailed ones, so that every instance sees it used)
// bound to the user, valid for Options.SecondFactorTTL. CompleteSignIn
// takes it with one factor's credentials and opens the session. A client
// that knows nothing of this sees a 401 and no token: never a half
// signed-in state.

// DefaultSecondFactorTTL is how long a sign-in waits for its second factor.
const DefaultSecondFactorTTL = 5 * time.Minute

// secondFactorTokenField is the credentials' field of the token.
const secondFactorTokenField = "second_factor_token"

// SecondFactor is what a sign-in that needs a second factor answers
// (Error.SecondFactor; error.data.meta.second_factor in the API).
type SecondFactor struct {
	// Token completes the sign-in once, until Expires.
	Token string `json:"token"`
	// Methods are the user's enrolled factors, by Verifier.Method:
	// "passkey", "recovery_code", "totp", sorted.
	Methods []string  `json:"methods"`
	Expires time.Time `json:"-"`
}

// SecondFactorSignIn is what completes a sign-in that answered a
// SecondFactor.
type SecondFactorSignIn struct {
	// Token is SecondFactor.Token.
	Token string
	// Credentials are one second factor's: {"totp_code"},
	// {"recovery_code"}, {"passkey", "challenge_token"}.
	Credentials Credentials
	// Username, when set, must be the name of the token's user.
	Username string
	// Addr, UserAgent and AnyOf are SignIn's.
	Addr      string
	UserAgent string
	AnyOf     []string
}

// CompleteSignIn opens the session a sign-in refused with a SecondFactor
// waited for. The token must be unexpired, unused and its user's; the
// credentials must be of one of the user's second factors, checked by its
// Verifier under the sign-in limits (a wrong code is a failed sign-in of
// that user from in.Addr). A bad, used or expired token is
// ErrUnauthenticated, as is a wrong code; the token stays usable after a
// wrong code until it expires, and is spent by the sign-in it completes,
// on every instance.
func (m *Module) CompleteSignIn(ctx context.Context, in SecondFactorSignIn) (*Session, error) {
	if kind, ok := auth.TokenKind(in.Token); !ok || kind != auth.KindSecondFactor {
		return nil, badSecondFactorToken()
	}
	creds := make(Credentials, len(in.Credentials))
	for f, v := range in.Credentials {
		if f != secondFactorTokenField {
			creds[f] = v
		}
	}
	v, err := m.verifiers.pick(creds)
	if err != nil {
		return nil, err
	}
	if v.Method == "" {
		return nil, refuse(ErrInvalid, "credentials: %s is not a second factor: send one of %s with the second_factor_token", quoteList([]string{v.Field}), m.verifiers.factorFields())
	}
	tok, err := m.tables.findToken(ctx, m.db, in.Token, auth.KindSecondFactor, m.now())
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, badSecondFactorToken()
	}
	row, err := m.findByID(ctx, m.db, tok.UserID, false)
	if err != nil {
		return nil, err
	}
	if row == nil || !row.Enabled {
		return nil, badSecondFactorToken()
	}
	if in.Username != "" && strings.ToLower(in.Username) != row.Name {
		return nil, badSecondFactorToken()
	}
	if err := m.checkEnrolled(ctx, v, row.user()); err != nil {
		return nil, err
	}
	keys := signinKeys(row.Name, in.Addr)
	if err := m.signinLim.check(ctx, keys); err != nil {
		return nil, err
	}
	if err := v.Verify(ctx, row.user(), creds); err != nil {
		return nil, err
	}
	// Spent now, whoever else holds it: of two completions, one wins.
	spent, err := m.tables.consumeToken(ctx, m.db, in.Token, auth.KindSecondFactor, m.now())
	if err != nil {
		return nil, err
	}
	if spent == nil || spent.UserID != row.ID {
		return nil, badSecondFactorToken()
	}
	if err := checkSigninPermissions(m.principal(row, 0, time.Time{}), in.AnyOf); err != nil {
		return nil, err
	}
	m.signinLim.succeeded(ctx, m.log, keys)
	m.rememberAddr(ctx, row, keys.addr)
	return m.openSession(ctx, row, in.Addr, in.UserAgent)
}

// badSecondFactorToken refuses every token that cannot complete a sign-in
// alike.
func badSecondFactorToken() *Error {
	return refuse(ErrUnauthenticated, "the second-factor token is invalid or expired: sign in again")
}

// needSecondFactor answers the refusal that asks row's sign-in for a
// second factor, with a new token, or nil when row has none enrolled.
func (m *Module) needSecondFactor(ctx context.Context, row *userRow) error {
	methods, err := m.enrolledMethods(ctx, row.user())
	if err != nil || len(methods) == 0 {
		return err
	}
	plain, digest, err := auth.NewToken(auth.KindSecondFactor)
	if err != nil {
		return fmt.Errorf("users: signin: %w", err)
	}
	now := m.stamp()
	tok := &tokenRow{UserID: row.ID, Kind: string(auth.KindSecondFactor), Digest: digest, Created: now, Expires: now.Add(m.secondFactorTTL)}
	if _, err := m.db.NewInsert().Model(tok).ModelTableExpr(m.tables.tokens).Exec(ctx); err != nil {
		return fmt.Errorf("users: signin: second-factor token for user %d: %w", row.ID, err)
	}
	return &Error{
		Reason:       ErrUnauthenticated,
		Message:      "a second factor is required: send second_factor_token with one of " + strings.Join(methods, ", "),
		SecondFactor: &SecondFactor{Token: plain, Methods: methods, Expires: tok.Expires},
	}
}

// enrolledMethods are the Methods of the second factors u has, sorted.
func (m *Module) enrolledMethods(ctx context.Context, u *User) ([]string, error) {
	return m.enrolledExcept(ctx, u, "")
}

// enrolledExcept are the Methods of the second factors u has but skip,
// sorted.
func (m *Module) enrolledExcept(ctx context.Context, u *User, skip string) ([]string, error) {
	var methods []string
	for _, v := range m.verifiers.factors() {
		if v.Method == skip {
			continue
		}
		ok, err := v.Enrolled(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("users: user %d: is %s enrolled: %w", u.ID, v.Method, err)
		}
		if ok {
			methods = append(methods, v.Method)
		}
	}
	return methods, nil
}

// HasSecondFactor reports whether the user has a second factor enrolled:
// whether a sign-in with a password needs one.
func (m *Module) HasSecondFactor(ctx context.Context, u *User) (bool, error) {
	methods, err := m.enrolledMethods(ctx, u)
	return len(methods) > 0, err
}

// checkEnrolled refuses the credentials of a second factor u does not
// have: there is nothing to check them against.
func (m *Module) checkEnrolled(ctx context.Context, v Verifier, u *User) error {
	if v.Method == "" {
		return nil
	}
	ok, err := v.Enrolled(ctx, u)
	if err != nil {
		return fmt.Errorf("users: user %d: is %s enrolled: %w", u.ID, v.Method, err)
	}
	if !ok {
		return refuse(ErrInvalid, "credentials: %s: no %s is enrolled for this user", v.Field, v.Method)
	}
	return nil
}

// factors are the second factors' verifiers, by Method.
func (vs *verifiers) factors() []Verifier {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	var out []Verifier
	for _, v := range vs.byName {
		if v.Method != "" {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out
}

// factorFields lists the Fields of the second factors, for messages.
func (vs *verifiers) factorFields() string {
	var names []string
	for _, v := range vs.factors() {
		names = append(names, v.Field)
	}
	return quoteList(names)
}
