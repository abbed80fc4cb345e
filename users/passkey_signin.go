package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authrpc/authrpc/auth"
)

// Proving who one is with a passkey: a challenge begun by anyone
// (BeginPasskeySignIn), answered by the authenticator of a discoverable
// credential, and checked for a sign-in without a password
// (SignInPasskey), an authorization or a second factor (the "passkey"
// Verifier).

// passkeyTokenPrefix starts a challenge_token.
const passkeyTokenPrefix = "pkc_"

// PasskeyChallenge is a begun passkey assertion.
type PasskeyChallenge struct {
	// Options are the options for the browser's navigator.credentials.get
	// (PublicKeyCredentialRequestOptionsJSON, binary values in base64url):
	// a discoverable request, which names no credential, so that the
	// authenticator offers the passkeys it holds for the relying party.
	Options json.RawMessage
	// Token names the challenge when the assertion comes back
	// (challenge_token); it works once, until Expires.
	Token   string
	Expires time.Time
}

// BeginPasskeySignIn begins a passkey assertion, as
// /v1/session/begin-passkey-signin does: for a sign-in without a password,
// an authorization or a second factor. Its state stays in the database
// under the token's digest, for PasskeyOptions.CeremonyTTL.
func (m *Module) BeginPasskeySignIn(ctx context.Context) (*PasskeyChallenge, error) {
	w, err := m.pk.webAuthn(ctx)
	if err != nil {
		return nil, err
	}
	assertion, data, err := w.BeginDiscoverableLogin()
	if err != nil {
		return nil, fmt.Errorf("users: begin passkey sign-in: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("users: begin passkey sign-in: %w", err)
	}
	token := passkeyTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	cer := &ceremonyRow{Digest: auth.Digest(token), Kind: ceremonyAssert, Expires: m.stamp().Add(m.pk.opts.CeremonyTTL)}
	if err := m.saveCeremony(ctx, cer, data); err != nil {
		return nil, err
	}
	opts, err := json.Marshal(assertion.Response)
	if err != nil {
		return nil, fmt.Errorf("users: begin passkey sign-in: %w", err)
	}
	return &PasskeyChallenge{Options: opts, Token: token, Expires: cer.Expires}, nil
}

// PasskeySignIn is what a guest signs in with without a password.
type PasskeySignIn struct {
	// Credential is the browser's PublicKeyCredential of the assertion, as
	// JSON (its toJSON()); ChallengeToken is BeginPasskeySignIn's token.
	Credential     json.RawMessage
	ChallengeToken string
	// Addr, UserAgent and AnyOf are SignIn's.
	Addr      string
	UserAgent string
	AnyOf     []string
}

// PasskeyCredentials are the credentials of a passkey assertion, for
// calling Authorize from Go.
func PasskeyCredentials(credential json.RawMessage, challengeToken string) Credentials {
	tok, _ := json.Marshal(challengeToken) // a string always marshals
	return Credentials{"passkey": credential, "challenge_token": tok}
}

// SignInPasskey opens a session for the user whose passkey answered the
// challenge, as /v1/session/signin with {passkey, challenge_token} does.
// The attempt counts against the sign-in limits as a password does, for
// the passkey's user and the address (for the address alone when the
// passkey is unknown). A credential that does not parse is ErrInvalid; an
// unknown passkey, a used or expired challenge, a wrong origin or relying
// party, a counter that did not move forward, an assertion whose
// authenticator did not verify its user (whatever
// PasskeyOptions.UserVerification says) and a disabled user are
// ErrUnauthenticated. The answer is SignIn's.
func (m *Module) SignInPasskey(ctx context.Context, in PasskeySignIn) (*Session, error) {
	parsed, err := parseAssertion(in.Credential)
	if err != nil {
		return nil, err
	}
	w, err := m.pk.webAuthn(ctx)
	if err != nil {
		return nil, err
	}
	pk, err := m.passkeyByCredential(ctx, parsed.RawID, w.Config.RPID)
	if err != nil {
		return nil, err
	}
	if pk == nil {
		if err := limit(ctx, m.signinLim.addr, auth.AddrKey(in.Addr), "too many sign-in attempts from your address: try again later"); err != nil {
			return nil, err
		}
		return nil, refuse(ErrUnauthenticated, "Bad credentials: this passkey is not registered here")
	}
	row, err := m.load(ctx, pk.UserID)
	if err != nil {
		return nil, err
	}
	keys := signinKeys(row.Name, in.Addr)
	if err := m.signinLim.check(ctx, keys); err != nil {
		return nil, err
	}
	// Alone, a passkey is two factors only when the device checked its
	// user; with PasskeyOptions.UserVerification below "required" one that
	// did not may still be a second factor after the password.
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, refuse(ErrUnauthenticated, "Bad credentials: the passkey did not verify its user (a PIN or biometrics), which signing in without a password takes")
	}
	if err := m.assertPasskey(ctx, w, parsed, in.ChallengeToken, pk); err != nil {
		return nil, err
	}
	if !row.Enabled {
		return nil, refuse(ErrUnauthenticated, "Bad credentials")
	}
	if err := checkSigninPermissions(m.principal(row, 0, time.Time{}), in.AnyOf); err != nil {
		return nil, err
	}
	m.signinLim.succeeded(ctx, m.log, keys)
	m.rememberAddr(ctx, row, keys.addr)
	return m.openSession(ctx, row, in.Addr, in.UserAgent)
}

// verifyPasskey is the Verifier of {passkey, challenge_token}: the
// assertion proves u, with one of u's passkeys.
func (m *Module) verifyPasskey(ctx context.Context, u *User, creds Credentials) error {
	token, ok, err := creds.String("challenge_token")
	if err != nil {
		return err
	}
	if !ok || token == "" {
		return refuse(ErrInvalid, "credentials: challenge_token is required with passkey (begin-passkey-signin answers it)")
	}
	parsed, err := parseAssertion(creds["passkey"])
	if err != nil {
		return err
	}
	w, err := m.pk.webAuthn(ctx)
	if err != nil {
		return err
	}
	pk, err := m.passkeyByCredential(ctx, parsed.RawID, w.Config.RPID)
	if err != nil {
		return err
	}
	if pk == nil || pk.UserID != u.ID {
		return refuse(ErrUnauthenticated, "Bad credentials: this passkey is not one of yours")
	}
	return m.assertPasskey(ctx, w, parsed, token, pk)
}

// parseAssertion parses a passkey assertion as the browser sends it.
func parseAssertion(credential json.RawMessage) (*protocol.ParsedCredentialAssertionData, error) {
	if len(credential) == 0 || string(credential) == "null" {
		return nil, refuse(ErrInvalid, "credentials: passkey is required: the PublicKeyCredential navigator.credentials.get answered, as JSON")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return nil, refuse(ErrInvalid, "credentials: passkey is not a passkey assertion: %s", protocolDetails(err))
	}
	return parsed, nil
}

// assertPasskey takes the challenge of token (once) and checks the
// assertion against it and the passkey pk: the signature, the challenge,
// the origin and relying party, user presence and verification, the backup
// flags, and a counter that moves forward. It stores the counter, the
// flags and the time of use.
func (m *Module) assertPasskey(ctx context.Context, w *webauthn.WebAuthn, parsed *protocol.ParsedCredentialAssertionData, token string, pk *passkeyRow) error {
	data, err := m.takeCeremony(ctx, auth.Digest(token), ceremonyAssert, 0, 0)
	if err != nil {
		return err
	}
	if data == nil {
		return refuse(ErrUnauthenticated, "Bad credentials: the challenge_token is unknown, used or expired: call begin-passkey-signin again")
	}
	if data.RelyingPartyID != pk.RPID {
		return refuse(ErrUnauthenticated, "Bad credentials: this passkey belongs to another relying party")
	}
	handle, err := m.passkeyHandle(ctx, pk.UserID)
	if err != nil {
		return err
	}
	owner := &webauthnUser{handle: handle, credentials: []webauthn.Credential{pk.credential()}}
	_, c, err := w.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return owner, nil }, *data, parsed)
	if err != nil {
		return refuse(ErrUnauthenticated, "Bad credentials: the passkey was refused: %s", protocolDetails(err))
	}
	if c.Authenticator.CloneWarning {
		return m.clonedPasskey(ctx, pk)
	}
	moved, err := m.passkeyUsed(ctx, pk, c)
	if err != nil {
		return err
	}
	if !moved {
		return m.clonedPasskey(ctx, pk)
	}
	return nil
}

// clonedPasskey refuses an assertion whose signature counter did not move
// forward: two authenticators may hold the key.
func (m *Module) clonedPasskey(ctx context.Context, pk *passkeyRow) error {
	m.log.WarnContext(ctx, "users: a passkey's signature counter did not move forward: the authenticator may be cloned",
		"user_id", pk.UserID, "passkey_id", pk.ID)
	return refuse(ErrUnauthenticated, "Bad credentials: the passkey's signature counter went backwards; the authenticator may be cloned")
}
