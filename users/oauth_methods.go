package users

import (
	"context"
	"reflect"
	"strconv"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// oauthFields are the OAuth credentials that signin's credentials and
// signup's fields may hold instead of a user name and password (SPEC §10).
type oauthFields struct {
	OAuthProvider    string `json:"oauth_provider,omitempty"`
	OAuthCode        string `json:"oauth_code,omitempty"`
	OAuthRedirectURL string `json:"oauth_redirect_url,omitempty"`
	OAuthState       string `json:"oauth_state,omitempty"`
}

func (f oauthFields) isOAuth() bool { return f.OAuthProvider != "" }

func (f oauthFields) credentials() oauth.Credentials {
	return oauth.Credentials{Provider: f.OAuthProvider, Code: f.OAuthCode, RedirectURL: f.OAuthRedirectURL, State: f.OAuthState}
}

// The 2021 shapes of the parameters, reflected as before while OAuth is off.
type passwordCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type passwordSignupFields struct {
	Username     string  `json:"username"`
	Password     *string `json:"password,omitempty"`
	Email        *string `json:"email,omitempty"`
	TelegramName *string `json:"telegram_name,omitempty"`
}

type oauthCredentialsParam struct {
	OAuthProvider    string `json:"oauth_provider" jsonschema:"minLength=1" jsonschema_description:"The provider's name."`
	OAuthCode        string `json:"oauth_code" jsonschema:"minLength=1" jsonschema_description:"The code the provider sent back."`
	OAuthRedirectURL string `json:"oauth_redirect_url" jsonschema:"minLength=1" jsonschema_description:"The redirect URL given to oauth-url."`
	OAuthState       string `json:"oauth_state" jsonschema:"minLength=1" jsonschema_description:"The state the provider sent back."`
}

// credentialsSchema is the schema of signin's credentials (signup's fields
// when signup): the 2021 shape, or, with Options.OAuth, that or the OAuth
// credentials.
func (m *Module) credentialsSchema(signup bool) *jsonschema.Schema {
	r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
	reflectType := func(t reflect.Type) *jsonschema.Schema {
		s := r.ReflectFromType(t)
		s.Version, s.ID = "", ""
		return s
	}
	base := reflectType(reflect.TypeFor[passwordCredentials]())
	if signup {
		base = reflectType(reflect.TypeFor[passwordSignupFields]())
	}
	kinds := []*jsonschema.Schema{base}
	if m.oauth != nil {
		kinds = append(kinds, reflectType(reflect.TypeFor[oauthCredentialsParam]()))
	}
	if !signup {
		kinds = append(kinds, passkeyCredentialsSchema(), secondFactorCredentialsSchema())
	}
	if len(kinds) == 1 {
		return base
	}
	return &jsonschema.Schema{AnyOf: kinds}
}

// secondFactorCredentialsSchema is signin's credentials that complete a
// sign-in waiting for a second factor: the token and one factor's fields,
// which their Verifier checks (a passkey's are added by its own code, so
// the schema lets any field through).
func secondFactorCredentialsSchema() *jsonschema.Schema {
	s := &jsonschema.Schema{
		Type:        "object",
		Description: "Completes a sign-in that answered 401 with `error.data.meta.second_factor`: its `token` as `second_factor_token`, with one of the user's factors: `{totp_code}`, `{recovery_code}` or `{passkey, challenge_token}`.",
		Properties:  jsonschema.NewProperties(),
		Required:    []string{secondFactorTokenField},
	}
	s.Properties.Set(secondFactorTokenField, &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1))})
	return s
}

// mountOAuth creates the identities table and registers the identity
// methods, with Options.OAuth.
func (m *Module) mountOAuth(ctx context.Context, opts Options) error {
	if opts.OAuth == nil {
		return nil
	}
	m.oauth = opts.OAuth
	m.AddVerifier(Verifier{Field: "oauth_code", Fields: []string{"oauth_provider", "oauth_redirect_url", "oauth_state"}, Verify: m.verifyOAuth})
	if err := storage.Migrate(ctx, m.db, "user_identities", identityMigrations(opts.TablePrefix),
		storage.WithLogger(m.log), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return err
	}
	profile := m.reg.Section("/v1/profile", "User profile")
	profile.Register(rpc.Method{
		ID: "get-identities", Title: "Read linked accounts",
		Description: "Answers the caller's accounts at OAuth providers as rows `{id, provider, subject, email, email_verified, created}`.",
		Permissions: []string{auth.User},
		Handler: func(ctx context.Context) ([]Identity, error) {
			return m.Identities(ctx, auth.FromContext(ctx).UserID)
		},
	})
	profile.Register(rpc.Method{
		ID: "remove-identity", Title: "Unlink an account",
		Description: "Unlinks one of the caller's accounts at an OAuth provider. 404 when it is not the caller's; 409 when it is the last way to sign in (no password and no other account). Requires a recent `/v1/session/authorize`.",
		Permissions: []string{auth.User},
		Params:      []rpc.Param{{Name: "identity_id", Description: "The identity's id, as get-identities answers it."}},
		// Unlinking is a change of how one signs in: as sure as the password.
		RequireAuthorization: true,
		Handler: func(ctx context.Context, identityID string) error {
			id, err := strconv.ParseInt(identityID, 10, 64)
			if err != nil || id <= 0 {
				return rpc.NotFound("identity %s not found", rpc.Quote(identityID))
			}
			return rpcError(m.As(auth.FromContext(ctx)).RemoveIdentity(ctx, id))
		},
	})
	admin := m.reg.Section("/v1/admin/users", "Application users management")
	admin.Register(rpc.Method{
		ID: "get-identities", Title: "Read a user's linked accounts",
		Description: "Answers the user's accounts at OAuth providers, as /v1/profile/get-identities does. `user_id` is an id or a user name.",
		Permissions: []string{m.adminPerm},
		Params:      []rpc.Param{{Name: "user_id"}},
		Handler: func(ctx context.Context, userID string) ([]Identity, error) {
			row, err := m.resolve(ctx, userID)
			if err != nil {
				return nil, err
			}
			return m.Identities(ctx, row.ID)
		},
	})
	return nil
}

// signinOAuth answers signin with OAuth credentials: a session, as with a
// password.
func (m *Module) signinOAuth(ctx context.Context, f oauthFields, signinPerms *[]string) (signinAnswer, error) {
	s, err := m.SignInOAuth(ctx, OAuthSignIn{Credentials: f.credentials(), Addr: clientAddr(ctx), UserAgent: userAgent(ctx), AnyOf: anyOf(signinPerms)})
	if err != nil {
		return signinAnswer{}, rpcError(err)
	}
	info := m.authInfo(s.User, m.permissionsView(s.User))
	info.Expires = &s.Expires
	return signinAnswer{Token: s.Token, Auth: info}, nil
}

// signupOAuth answers signup with OAuth credentials: the first sign-in of
// the identity, which signs up (or links), and answers the session as
// signin does, since the code cannot be used again to sign in.
func (m *Module) signupOAuth(ctx context.Context, f oauthFields) (rpc.Result, error) {
	a, err := m.signinOAuth(ctx, f, nil)
	if err != nil {
		return rpc.Result{}, err
	}
	return rpc.Result{Data: a}, nil
}
