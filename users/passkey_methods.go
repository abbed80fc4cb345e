package users

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// The passkey methods (SPEC §10): adapters over BeginPasskey,
// FinishPasskey, Passkeys, RenamePasskey, RemovePasskey (passkey.go),
// BeginPasskeySignIn and SignInPasskey (passkey_signin.go).

// passkeyFields are the passkey credentials that signin's credentials may
// hold instead of a user name and password.
type passkeyFields struct {
	Passkey        json.RawMessage `json:"passkey,omitempty"`
	ChallengeToken string          `json:"challenge_token,omitempty"`
}

func (f passkeyFields) isPasskey() bool { return len(f.Passkey) > 0 && string(f.Passkey) != "null" }

// passkeyCredentialsParam is the shape of signin's passkey credentials.
type passkeyCredentialsParam struct {
	Passkey        map[string]any `json:"passkey" jsonschema_description:"The PublicKeyCredential navigator.credentials.get answered, as JSON (its toJSON())."`
	ChallengeToken string         `json:"challenge_token" jsonschema:"minLength=1" jsonschema_description:"The challenge_token begin-passkey-signin answered."`
}

// passkeyCredentialsSchema is passkeyCredentialsParam's schema.
func passkeyCredentialsSchema() *jsonschema.Schema {
	r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
	s := r.ReflectFromType(reflect.TypeFor[passkeyCredentialsParam]())
	s.Version, s.ID = "", ""
	return s
}

// beginPasskeyLimit bounds the ceremonies a caller begins: each is a row
// until it expires.
var beginPasskeyLimit = &rpc.RateLimit{Burst: 30, PerSecond: 0.5}

var passkeyIDParam = rpc.Param{Name: "passkey_id", Description: "The passkey's id, as get-passkeys answers it."}

// mountPasskeys registers the passkey methods and the "passkey" Verifier:
// for authorize, and a second factor of the users who have a passkey.
func (m *Module) mountPasskeys() {
	m.AddVerifier(Verifier{
		Field: "passkey", Fields: []string{"challenge_token"}, Verify: m.verifyPasskey,
		Method: "passkey", Enrolled: func(ctx context.Context, u *User) (bool, error) { return m.HasPasskey(ctx, u.ID) },
	})
	// An administrator's remove-factors removes the passkeys too, in its
	// transaction.
	m.OnRemoveFactors(func(ctx context.Context, tx bun.Tx, userID int64) error {
		_, err := m.RemovePasskeys(ctx, tx, userID)
		return err
	})
	user := []string{auth.User}
	profile := m.reg.Section("/v1/profile", "User profile")
	profile.Register(rpc.Method{
		ID: "begin-passkey", Title: "Begin adding a passkey", Permissions: user,
		Description:          "Begins registering a passkey for the caller: answers the options for the browser's `navigator.credentials.create` as `PublicKeyCredentialCreationOptionsJSON` (the `publicKey` member; binary values in base64url), which `PublicKeyCredential.parseCreationOptionsFromJSON` reads. The ceremony is kept on the server, bound to the caller's session, for 5 minutes; finish it with finish-passkey. Requires a recent `/v1/session/authorize`. 400 when the server has no relying party (the `app_url` setting); 409 when the caller holds the most passkeys a user may (32 by default).",
		RequireAuthorization: true,
		RateLimit:            beginPasskeyLimit,
		Handler: func(ctx context.Context) (map[string]any, error) {
			out, err := m.As(auth.FromContext(ctx)).BeginPasskey(ctx)
			if err != nil {
				return nil, rpcError(err)
			}
			return jsonObject(out)
		},
	})
	profile.Register(rpc.Method{
		ID: "finish-passkey", Title: "Finish adding a passkey", Permissions: user,
		Description: "Completes the registration begin-passkey began in this session with `credential`, the `PublicKeyCredential` that `navigator.credentials.create` answered, as JSON (its `toJSON()`), and names the passkey `name` (\"Passkey\" when absent; 1 to 64 printable characters). Answers the passkey's row `{id, name, created, last_used}`. 400 when the credential does not parse or fails the checks (challenge, origin, relying party, user verification) or no registration was begun; 409 when the authenticator's passkey is registered already, or the caller holds the most passkeys a user may (32 by default), and nothing is stored.",
		Params: []rpc.Param{
			{Name: "credential", Description: "The PublicKeyCredential, as JSON.", Schema: &jsonschema.Schema{Type: "object"}},
			{Name: "name?", Description: "The passkey's name.", Schema: &jsonschema.Schema{Type: "string"}},
		},
		Handler: func(ctx context.Context, credential json.RawMessage, name *string) (*Passkey, error) {
			n := ""
			if name != nil {
				n = *name
			}
			p, err := m.As(auth.FromContext(ctx)).FinishPasskey(ctx, credential, n)
			return p, rpcError(err)
		},
	})
	profile.Register(rpc.Method{
		ID: "get-passkeys", Title: "Get passkeys", Permissions: user,
		Description: "Answers the caller's passkeys, the oldest first, as rows `{id, name, created, last_used}` (`last_used` null when never used).",
		Handler: func(ctx context.Context) ([]Passkey, error) {
			list, err := m.As(auth.FromContext(ctx)).Passkeys(ctx)
			return list, rpcError(err)
		},
	})
	profile.Register(rpc.Method{
		ID: "rename-passkey", Title: "Rename a passkey", Permissions: user,
		Description: "Renames one of the caller's passkeys: `name` is 1 to 64 printable characters. 404 when it is not the caller's.",
		Params:      []rpc.Param{passkeyIDParam, {Name: "name", Description: "The new name.", Schema: &jsonschema.Schema{Type: "string"}}},
		Handler: func(ctx context.Context, passkeyID, name string) error {
			id, e := parsePasskeyID(passkeyID)
			if e != nil {
				return e
			}
			return rpcError(m.As(auth.FromContext(ctx)).RenamePasskey(ctx, id, name))
		},
	})
	profile.Register(rpc.Method{
		ID: "remove-passkey", Title: "Remove a passkey", Permissions: user,
		Description:          "Removes one of the caller's passkeys: it signs in no more. 404 when it is not the caller's. Requires a recent `/v1/session/authorize`.",
		Params:               []rpc.Param{passkeyIDParam},
		RequireAuthorization: true,
		Handler: func(ctx context.Context, passkeyID string) error {
			id, e := parsePasskeyID(passkeyID)
			if e != nil {
				return e
			}
			return rpcError(m.As(auth.FromContext(ctx)).RemovePasskey(ctx, id))
		},
	})
	session := m.reg.Section("/v1/session", "Session")
	session.Register(rpc.Method{
		ID: "begin-passkey-signin", Title: "Begin signing in with a passkey", Permissions: []string{auth.Anyone},
		Description: "Begins proving who the caller is with a passkey: answers the options for the browser's `navigator.credentials.get` as `PublicKeyCredentialRequestOptionsJSON` (binary values in base64url), with one more member, `challenge_token`. Send the credential the browser answers (as JSON, its `toJSON()`) with that token as `{passkey, challenge_token}`: to `signin` (a session without a password), to `authorize`, or to complete a sign-in with a second factor. The token works once, for 5 minutes. 400 when the server has no relying party (the `app_url` setting).",
		RateLimit:   beginPasskeyLimit,
		Handler: func(ctx context.Context) (map[string]any, error) {
			c, err := m.BeginPasskeySignIn(ctx)
			if err != nil {
				return nil, rpcError(err)
			}
			out, err := jsonObject(c.Options)
			if err != nil {
				return nil, err
			}
			out["challenge_token"] = c.Token
			return out, nil
		},
	})
}

// jsonObject is the options as an object: the answers' data is an object
// whose members are the WebAuthn options' (described in the methods' text).
func jsonObject(raw json.RawMessage) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("users: passkey options: %w", err)
	}
	return out, nil
}

// signinPasskey answers signin with passkey credentials: a session, as
// with a password.
func (m *Module) signinPasskey(ctx context.Context, f passkeyFields, signinPerms *[]string) (signinAnswer, error) {
	s, err := m.SignInPasskey(ctx, PasskeySignIn{
		Credential: f.Passkey, ChallengeToken: f.ChallengeToken,
		Addr: clientAddr(ctx), UserAgent: userAgent(ctx), AnyOf: anyOf(signinPerms),
	})
	if err != nil {
		return signinAnswer{}, rpcError(err)
	}
	return m.sessionAnswer(s), nil
}

// parsePasskeyID parses a passkey_id parameter: the decimal digits of a
// positive 64-bit id, else 400.
func parsePasskeyID(s string) (int64, *rpc.Error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, rpc.BadRequest("passkey_id %s is not a passkey id: send the id's decimal digits as a string, such as \"100\"", rpc.Quote(s))
}
