package users

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

const signinDescription = "If `credentials` parameter is specified - will try to sign in user using username and password, otherwise will try to sign in user, using currently used api token.\n\n" +
	"**Returns**:\n\n" +
	"-   `200`: Sign in successfully.\n\n" +
	"-   `401`: Bad credentials.\n\n" +
	"-   `403`: Not authorized.\n\n" +
	"-   Any other status means bad request, internal or connection error. Refer to the response `statusText` property for more information."

// credentials is the first parameter of signin.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	oauthFields
	passkeyFields
	// raw is every field as sent: a second factor's are its Verifier's.
	raw Credentials
}

// UnmarshalJSON decodes the known fields and keeps them all in raw.
func (c *credentials) UnmarshalJSON(b []byte) error {
	type fields credentials // the fields without this method
	var f fields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*c = credentials(f)
	return json.Unmarshal(b, &c.raw)
}

// isSecondFactor reports whether the credentials complete a sign-in that
// waits for a second factor.
func (c *credentials) isSecondFactor() bool {
	_, ok := c.raw[secondFactorTokenField]
	return ok
}

// signupFields is the parameter of signup.
type signupFields struct {
	Username     string  `json:"username"`
	Password     *string `json:"password,omitempty"`
	Email        *string `json:"email,omitempty"`
	TelegramName *string `json:"telegram_name,omitempty"`
	oauthFields
}

// signinAnswer is what signin answers: a new session's token (only when
// credentials were given) and who the caller is.
type signinAnswer struct {
	Token string   `json:"token,omitempty"`
	Auth  authInfo `json:"auth"`
	// Settings is read by @softvisio/core front ends after sign-in. Always
	// an empty object; the application's settings are admin/settings/read.
	Settings struct{} `json:"settings"`
}

func (m *Module) registerSession() {
	mod := m.reg.Section("/v1/session", "Session")
	mod.Register(rpc.Method{
		ID:          "signin",
		Title:       "Signin",
		Description: signinDescription,
		Permissions: []string{auth.Anyone},
		Params: []rpc.Param{
			{Name: "credentials?", Schema: m.credentialsSchema(false)},
			{
				Name:        "signin_permissions?",
				Description: "Array of permissions. Only user, who has this permissions can sign in. If `null` permissions will not check.",
				Schema: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
					{Type: "null"},
					{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
				}},
			},
		},
		Handler: m.signin,
		// A void sign-in would make a session whose token nobody receives.
		NoVoid: true,
	})
	mod.Register(rpc.Method{
		ID:          "signout",
		Title:       "Signout",
		Description: "Ends the session the call was made with. Other sessions and API tokens are left alone.",
		Permissions: []string{auth.Anyone},
		Handler:     m.signout,
	})
	mod.Register(rpc.Method{
		ID:          "signup",
		Title:       "Signup",
		Description: "Creates an enabled user from `fields` (`username`, `password`, `email` optional) and answers without data. 409 when the name or email is taken, with one message for either; 403 while signup is closed, as it is until the host opens it (the `signup_enabled` setting).",
		Permissions: []string{auth.Anyone},
		Params:      []rpc.Param{{Name: "fields", Schema: m.credentialsSchema(true)}},
		Handler:     m.signup,
		// The limit is the handler's, not the registry's RateLimit: this
		// one is shared by the instances.
	})
	mod.Register(rpc.Method{
		ID:          "authorize",
		Title:       "Authorize session",
		Description: authorizeDescription,
		Permissions: []string{auth.User},
		Params:      []rpc.Param{{Name: "credentials", Description: "What proves the caller is the session's user: `{password}` (other kinds as the host enables them).", Schema: credentialsSchema}},
		Handler:     m.authorize,
		NoVoid:      true,
	})
	m.registerEmail(mod)
}

const authorizeDescription = "Proves again that the caller is the session's user, with `credentials` such as `{\"password\": \"…\"}`, and marks the session authorized: for a few minutes (5 by default) it may call the methods that require a recent authorization, which otherwise answer 403 with `error.data.meta.authorization_required: true`. Rate limited as sign-in is. API tokens never authorize.\n\n" +
	"**Returns**:\n\n" +
	"-   `200`: The session is authorized.\n\n" +
	"-   `401`: Bad credentials.\n\n" +
	"-   `403`: Made with an API token.\n\n" +
	"-   `429`: Too many attempts."

// credentialsSchema is authorize's parameter: an object naming one kind of
// credentials. The password is the module's; the fields of the kinds a
// Verifier adds are checked by it, so the schema lets them through.
var credentialsSchema = func() *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), MinProperties: ptr(uint64(1))}
	s.Properties.Set("password", &jsonschema.Schema{Type: "string"})
	return s
}()

// authorize marks the caller's session authorized (Actor.Authorize).
func (m *Module) authorize(ctx context.Context, creds Credentials) error {
	return rpcError(m.As(auth.FromContext(ctx)).Authorize(ctx, creds, clientAddr(ctx)))
}

// The handlers below are adapters over SignIn, SignUp (signin.go,
// signup.go) and Actor.SignOut.

// signin opens a session for the credentials, or, without them, describes
// the caller (a session or an API token).
func (m *Module) signin(ctx context.Context, creds *credentials, signinPerms *[]string) (signinAnswer, error) {
	if creds == nil {
		return m.describe(ctx, signinPerms)
	}
	if creds.isSecondFactor() {
		return m.signinSecondFactor(ctx, creds, signinPerms)
	}
	if creds.isOAuth() {
		return m.signinOAuth(ctx, creds.oauthFields, signinPerms)
	}
	if creds.isPasskey() {
		return m.signinPasskey(ctx, creds.passkeyFields, signinPerms)
	}
	s, err := m.SignIn(ctx, SignIn{Username: creds.Username, Password: creds.Password, Addr: clientAddr(ctx), UserAgent: userAgent(ctx), AnyOf: anyOf(signinPerms)})
	if err != nil {
		return signinAnswer{}, rpcError(err)
	}
	return m.sessionAnswer(s), nil
}

// sessionAnswer is signin's answer for a new session.
func (m *Module) sessionAnswer(s *Session) signinAnswer {
	info := m.authInfo(s.User, m.permissionsView(s.User))
	info.Expires = &s.Expires
	return signinAnswer{Token: s.Token, Auth: info}
}

// signinSecondFactor completes a sign-in with its second factor
// (CompleteSignIn).
func (m *Module) signinSecondFactor(ctx context.Context, creds *credentials, signinPerms *[]string) (signinAnswer, error) {
	token, _, err := creds.raw.String(secondFactorTokenField)
	if err != nil {
		return signinAnswer{}, rpcError(err)
	}
	factor := maps.Clone(creds.raw)
	delete(factor, secondFactorTokenField)
	delete(factor, "username")
	s, err := m.CompleteSignIn(ctx, SecondFactorSignIn{
		Token: token, Credentials: factor, Username: creds.Username,
		Addr: clientAddr(ctx), UserAgent: userAgent(ctx), AnyOf: anyOf(signinPerms),
	})
	if err != nil {
		return signinAnswer{}, rpcError(err)
	}
	return m.sessionAnswer(s), nil
}

// describe answers signin without credentials: who the caller is (the
// record from the userCache).
func (m *Module) describe(ctx context.Context, signinPerms *[]string) (signinAnswer, error) {
	p := auth.FromContext(ctx)
	if !p.Authenticated() {
		return signinAnswer{}, rpc.Unauthorized("Not authenticated")
	}
	u, err := m.cachedUser(ctx, p.UserID)
	if err != nil {
		return signinAnswer{}, err
	}
	if u == nil || !u.Enabled {
		return signinAnswer{}, rpc.Unauthorized("Not authenticated")
	}
	if err := checkSigninPermissions(p, anyOf(signinPerms)); err != nil {
		return signinAnswer{}, rpcError(err)
	}
	info := m.authInfo(u, m.callerView(p))
	if !p.ExpiresAt.IsZero() {
		exp := p.ExpiresAt.UTC()
		info.Expires = &exp
	}
	return signinAnswer{Auth: info}, nil
}

// anyOf is the signin_permissions parameter as SignIn.AnyOf: nil when it
// was not sent, else not nil, even when empty.
func anyOf(signinPerms *[]string) []string {
	if signinPerms == nil {
		return nil
	}
	return append([]string{}, *signinPerms...)
}

// signout ends the caller's session: 200, or 204 when it was gone. A guest
// gets 404, which existing clients expect: there is no session to end; an
// API token gets 204: nothing changed.
func (m *Module) signout(ctx context.Context) (rpc.Result, error) {
	return changedResult(m.As(auth.FromContext(ctx)).SignOut(ctx))
}

// signup creates an enabled user holding the default permissions.
func (m *Module) signup(ctx context.Context, f signupFields) (rpc.Result, error) {
	if f.isOAuth() {
		return m.signupOAuth(ctx, f.oauthFields)
	}
	_, err := m.SignUp(ctx, SignUp{
		Username: f.Username, Password: deref(f.Password), NoPassword: f.Password == nil,
		Email: deref(f.Email), TelegramName: deref(f.TelegramName),
		Addr: clientAddr(ctx),
	})
	return rpc.Result{}, rpcError(err)
}
