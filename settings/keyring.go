package settings

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of a settings key: AES-256.
const KeySize = 32

// Keyring holds the keys that secret settings are encrypted with at rest:
// the current key, which encrypts every value written, and older keys,
// which only decrypt, so that values written before a rotation still read.
// Each key is known by its id, the first 4 bytes of a SHA-256 of the key in
// hex, which is stored in front of every value it encrypted.
// A Keyring is safe for concurrent use and never changes once made.
type Keyring struct {
	current *ringKey
	byID    map[string]*ringKey
}

type ringKey struct {
	id   string
	aead cipher.AEAD
}

// NewKeyring returns a Keyring that encrypts with current and decrypts
// with current and each of old. Every key is KeySize random bytes; a key
// given twice counts once.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{byID: map[string]*ringKey{}}
	for i, raw := range append([][]byte{current}, old...) {
		rk, err := newRingKey(raw)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("settings: current key: %w", err)
			}
			return nil, fmt.Errorf("settings: old key %d: %w", i, err)
		}
		if i == 0 {
			k.current = rk
		}
		k.byID[rk.id] = rk
	}
	return k, nil
}

// ParseKeyring is NewKeyring for keys written in base64 (standard or URL
// alphabet, padded or not), as environment variables hold them. Empty
// strings among old are skipped.
func ParseKeyring(current string, old ...string) (*Keyring, error) {
	cur, err := decodeKey(current)
	if err != nil {
		return nil, fmt.Errorf("settings: current key: %w", err)
	}
	var olds [][]byte
	for i, s := range old {
		if strings.TrimSpace(s) == "" {
			continue
		}
		b, err := decodeKey(s)
		if err != nil {
			return nil, fmt.Errorf("settings: old key %d: %w", i+1, err)
		}
		olds = append(olds, b)
	}
	return NewKeyring(cur, olds...)
}

// GenerateKey returns a new random key in base64, ready for ParseKeyring.
func GenerateKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(b)
}

// KeyID returns the id of the current key, which new values are stored under.
func (k *Keyring) KeyID() string { return k.current.id }

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if s == "" {
		return nil, errors.New("empty")
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func newRingKey(raw []byte) (*ringKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("authrpc settings key id\x00"), raw...))
	return &ringKey{id: hex.EncodeToString(sum[:4]), aead: aead}, nil
}

// ErrUnknownKey and ErrUndecryptable are what a SecretError wraps.
var (
	// ErrUnknownKey: the value was encrypted with a key that Options.Keys
	// does not hold (or Options.Keys is nil).
	ErrUnknownKey = errors.New("encrypted with a key that Options.Keys does not hold")
	// ErrUndecryptable: the value does not decrypt with the key of its id,
	// or is not a value this package wrote: it was changed or cut.
	ErrUndecryptable = errors.New("does not decrypt: the stored value was changed or is not one this package wrote")
)

// SecretError reports a stored secret setting that could not be decrypted.
// The setting is then treated as unreadable, never as a value of its own:
// Module.Get and Module.SMTP answer the error, and storing the setting
// again (update) replaces it.
type SecretError struct {
	Setting string // the setting's key, such as "smtp_password"
	KeyID   string // the id of the key it was encrypted with
	Err     error  // ErrUnknownKey or ErrUndecryptable
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("settings: secret setting %s (key id %s): %v", e.Setting, e.KeyID, e.Err)
}

func (e *SecretError) Unwrap() error { return e.Err }

// A sealed value is stored as "enc:v1:<key id>:<base64url(nonce|ciphertext)>",
// v1 being AES-256-GCM with a 12-byte random nonce and the setting's key as
// additional data, so that a sealed value cannot be moved to another key.
// Plain values are JSON, which never starts with "e".
const sealedPrefix = "enc:v1:"

// sealPad rounds the plaintext's length up, so that the stored length tells
// little of the secret's. JSON ignores the trailing spaces.
const sealPad = 32

func sealed(raw []byte) bool { return bytes.HasPrefix(raw, []byte(sealedPrefix)) }

// keyIDOf returns the key id of a sealed value.
func keyIDOf(raw []byte) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(string(raw), sealedPrefix), ":")
	return id
}

func additionalData(setting string) []byte {
	return []byte("authrpc settings v1\x00" + setting)
}

// seal encrypts the JSON value of a setting with the current key.
func (k *Keyring) seal(setting string, value []byte) []byte {
	n := (len(value)/sealPad + 1) * sealPad
	plain := make([]byte, n)
	copy(plain, value)
	for i := len(value); i < n; i++ {
		plain[i] = ' '
	}
	aead := k.current.aead
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+n+aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	box := aead.Seal(nonce, nonce, plain, additionalData(setting))
	out := make([]byte, 0, len(sealedPrefix)+len(k.current.id)+1+base64.RawURLEncoding.EncodedLen(len(box)))
	out = append(out, sealedPrefix...)
	out = append(out, k.current.id...)
	out = append(out, ':')
	return base64.RawURLEncoding.AppendEncode(out, box)
}

// open decrypts a sealed value of a setting; k may be nil.
func (k *Keyring) open(setting string, raw []byte) ([]byte, error) {
	id, body, ok := strings.Cut(strings.TrimPrefix(string(raw), sealedPrefix), ":")
	fail := func(err error) ([]byte, error) {
		return nil, &SecretError{Setting: setting, KeyID: id, Err: err}
	}
	if !ok {
		return fail(ErrUndecryptable)
	}
	var rk *ringKey
	if k != nil {
		rk = k.byID[id]
	}
	if rk == nil {
		return fail(ErrUnknownKey)
	}
	box, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(box) < rk.aead.NonceSize() {
		return fail(ErrUndecryptable)
	}
	ns := rk.aead.NonceSize()
	plain, err := rk.aead.Open(nil, box[:ns], box[ns:], additionalData(setting))
	if err != nil {
		return fail(ErrUndecryptable)
	}
	return bytes.TrimRight(plain, " "), nil
}

// Seal encrypts value with the current key as secret settings are stored,
// "enc:v1:<key id>:…", for other modules' secrets at rest (the users
// module's TOTP secrets). purpose is bound to the value as additional
// data: a value sealed for one purpose (one user's secret, say) does not
// open for another. Seal fits users.Options.Keyring.
func (k *Keyring) Seal(purpose string, value []byte) string {
	return string(k.seal("ext\x00"+purpose, value))
}

// Open decrypts a value Seal sealed for purpose, with whichever key of the
// ring sealed it. A value of another purpose, or under a key the ring does
// not hold, is a *SecretError. Trailing spaces of the value are lost
// (seal pads with them).
func (k *Keyring) Open(purpose, sealed string) ([]byte, error) {
	if !strings.HasPrefix(sealed, sealedPrefix) {
		return nil, &SecretError{Setting: purpose, Err: ErrUndecryptable}
	}
	return k.open("ext\x00"+purpose, []byte(sealed))
}
