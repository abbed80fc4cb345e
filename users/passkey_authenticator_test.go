package users_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/stretchr/testify/require"
)

// softKey is a software authenticator holding one discoverable ECDSA P-256
// credential, which makes registrations (attestation "none") and
// assertions by hand, as the WebAuthn spec (§6.1, §6.5, §7) lays them out.
// Its fields are what a test may bend: the origin the "browser" reports,
// the relying party id it hashes, its counter.
type softKey struct {
	origin string
	rpID   string
	key    *ecdsa.PrivateKey
	id     []byte
	handle []byte // the user handle given at registration
	count  uint32
	// backup makes it a synced passkey: backup eligible and backed up.
	backup bool
	// noUV leaves the user-verified flag out.
	noUV bool
}

func newSoftKey(t testing.TB, origin, rpID string) *softKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id := make([]byte, 32)
	rand.Read(id)
	return &softKey{origin: origin, rpID: rpID, key: key, id: id}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err, s)
	return b
}

// Authenticator data flags (§6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// authData is rpIdHash, flags, the counter, and attested credential data
// when attested (§6.1).
func (k *softKey) authData(attested bool) []byte {
	rpHash := sha256.Sum256([]byte(k.rpID))
	flags := byte(flagUP)
	if !k.noUV {
		flags |= flagUV
	}
	if k.backup {
		flags |= flagBE | flagBS
	}
	if attested {
		flags |= flagAT
	}
	out := append([]byte{}, rpHash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		x, y := k.key.X.FillBytes(make([]byte, 32)), k.key.Y.FillBytes(make([]byte, 32))
		// The COSE_Key of an EC2 P-256 key for ES256 (RFC 9053).
		cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
		if err != nil {
			panic(err)
		}
		out = append(out, cose...)
	}
	return out
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// creationOptions are the members of begin-passkey's answer it reads.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	ExcludeCredentials []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// create answers creation options as navigator.credentials.create's
// PublicKeyCredential would, toJSON()'d.
func (k *softKey) create(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	var o creationOptions
	require.NoError(t, json.Unmarshal(options, &o), string(options))
	k.handle = unb64(t, o.User.ID)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(true)})
	require.NoError(t, err)
	out, err := json.Marshal(map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(k.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	require.NoError(t, err)
	return out
}

// get answers request options (begin-passkey-signin's) as
// navigator.credentials.get's PublicKeyCredential would, toJSON()'d; the
// counter goes up by one first.
func (k *softKey) get(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
	}
	require.NoError(t, json.Unmarshal(options, &o), string(options))
	k.count++
	return k.assertion(t, o.Challenge)
}

// assertion signs challenge as it stands.
func (k *softKey) assertion(t testing.TB, challenge string) json.RawMessage {
	t.Helper()
	data := k.authData(false)
	client := k.clientData("webauthn.get", challenge)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, data...), clientHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	require.NoError(t, err)
	out, err := json.Marshal(map[string]any{
		"id": b64(k.id), "rawId": b64(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(client),
			"authenticatorData": b64(data),
			"signature":         b64(sig),
			"userHandle":        b64(k.handle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	require.NoError(t, err)
	return out
}
