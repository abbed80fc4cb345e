package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
)

// Password length limits used when HasherOptions leaves them zero.
const (
	DefaultMinPasswordLength = 8    // characters
	DefaultMaxPasswordLength = 1024 // bytes
)

// DefaultMaxConcurrentHashes bounds concurrent argon2 runs when
// HasherOptions leaves MaxConcurrent zero: with the default parameters that is
// about 76 MiB of hashing memory at most.
const DefaultMaxConcurrentHashes = 4

// Defaults of the wait for a hashing slot, when HasherOptions leaves them
// zero: at most DefaultHashQueuePerSlot callers wait per slot, each at most
// DefaultMaxHashWait.
const (
	DefaultHashQueuePerSlot = 8
	DefaultMaxHashWait      = time.Second
)

// ErrBusy is returned by Hash and Verify when every hashing slot is taken
// and the queue for them has no place for the caller (see HashClaim), when
// another caller took its place, or when it has waited MaxWait. Answer it
// with 429 and a Retry-After of about a second: a flood of sign-ins then
// costs its senders refusals instead of costing everyone a long wait.
var ErrBusy = errors.New("auth: password hashing is busy: try again shortly")

// Sanity bounds on the parameters read from a stored hash. A hash asking for
// more (a corrupt or planted row) is refused rather than allowed to take a
// hashing slot for minutes or exhaust memory. They rise with the configured
// parameters, so a host can always verify what it hashed.
const (
	maxHashMemory     = 1 << 20 // KiB: 1 GiB
	maxHashIterations = 64
	minHashKeyLength  = 16 // bytes; a short key would make a match easy
	minHashSaltLength = 8
)

// HasherOptions configure a Hasher. The zero value is usable.
type HasherOptions struct {
	// Params are the argon2id parameters for new hashes. Nil, or a zero
	// field, means OWASP's minimum: m=19456 KiB, t=2, p=1, a 16-byte salt and
	// a 32-byte key. Lower values are for tests only.
	Params *argon2id.Params

	// MaxConcurrent bounds how many argon2 runs may be in progress at once, so
	// that a flood of sign-ins queues instead of exhausting memory. Default 4.
	MaxConcurrent int

	// MaxQueue bounds how many callers may wait for a slot when all are
	// taken; one more gets ErrBusy at once, unless it takes the place of
	// another (see HashClaim). Default DefaultHashQueuePerSlot ×
	// MaxConcurrent. Negative: nobody waits.
	MaxQueue int

	// MaxQueuePerKey bounds the places in the queue callers with one
	// HashClaim.Key hold (one client address, say), so that one cannot take
	// every place. Default a quarter of MaxQueue, at least 1.
	MaxQueuePerKey int

	// MaxWait bounds how long a caller waits for a slot before it gets
	// ErrBusy. Default DefaultMaxHashWait (1 s).
	MaxWait time.Duration

	// After times MaxWait: the channel it returns receives once the wait
	// is over. Tests set it to a fake clock's. Default time.After.
	After func(d time.Duration) <-chan time.Time

	// MinLength is the least number of characters (not bytes) a new password
	// may have. Default 8.
	MinLength int

	// MaxLength is the most bytes a password may have. Default 1024.
	MaxLength int
}

// Hasher hashes and verifies passwords with argon2id, bounding how many
// hashes run at once. Callers wait for a slot in a queue that is bounded and
// fair: by the HashClaim on their context, a higher priority goes first, and
// no one key (a client address) takes every place. It is safe for
// concurrent use.
type Hasher struct {
	params    argon2id.Params
	queue     *hashQueue
	maxWait   time.Duration
	minLength int
	maxLength int
	dummy     string // a hash of no one's password, for VerifyDummy
}

// NewHasher returns a Hasher with the given options; zero options take the
// defaults described on HasherOptions.
func NewHasher(opts HasherOptions) *Hasher {
	p := argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if o := opts.Params; o != nil {
		// Copy field by field so that later changes to *o do not race with us.
		p.Memory = cmp.Or(o.Memory, p.Memory)
		p.Iterations = cmp.Or(o.Iterations, p.Iterations)
		p.Parallelism = cmp.Or(o.Parallelism, p.Parallelism)
		p.SaltLength = cmp.Or(o.SaltLength, p.SaltLength)
		p.KeyLength = cmp.Or(o.KeyLength, p.KeyLength)
	}
	slots := positiveOr(opts.MaxConcurrent, DefaultMaxConcurrentHashes)
	maxQueue := max(0, cmp.Or(opts.MaxQueue, DefaultHashQueuePerSlot*slots))
	h := &Hasher{
		params:    p,
		queue:     newHashQueue(slots, maxQueue, positiveOr(opts.MaxQueuePerKey, max(1, maxQueue/4)), opts.After),
		maxWait:   opts.MaxWait,
		minLength: positiveOr(opts.MinLength, DefaultMinPasswordLength),
		maxLength: positiveOr(opts.MaxLength, DefaultMaxPasswordLength),
	}
	if h.maxWait <= 0 {
		h.maxWait = DefaultMaxHashWait
	}
	// The dummy needs only the shape of a real hash: Verify derives a key
	// with the same parameters and compares, whatever the stored key is. So
	// random bytes serve and construction costs no argon2 run.
	salt := make([]byte, p.SaltLength)
	key := make([]byte, p.KeyLength)
	rand.Read(salt) // never fails (see crypto/rand.Read)
	rand.Read(key)
	h.dummy = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	return h
}

// PasswordError reports a password that breaks a length rule. Its message is
// meant for the person choosing the password.
type PasswordError struct {
	// Rule is "min_length" or "max_length".
	Rule string
	// Limit is the rule's bound: characters for min_length, bytes for max_length.
	Limit int
}

func (e *PasswordError) Error() string {
	if e.Rule == "max_length" {
		return fmt.Sprintf("password must be at most %d bytes", e.Limit)
	}
	return fmt.Sprintf("password must be at least %d characters", e.Limit)
}

// CheckPassword checks a new password against the length rules and returns a
// *PasswordError for the first one it breaks.
func (h *Hasher) CheckPassword(password string) error {
	if len(password) > h.maxLength {
		return &PasswordError{Rule: "max_length", Limit: h.maxLength}
	}
	if utf8.RuneCountInString(password) < h.minLength {
		return &PasswordError{Rule: "min_length", Limit: h.minLength}
	}
	return nil
}

// Hash checks the password with CheckPassword (returning its
// *PasswordError as is) and returns its argon2id hash in the encoded form
// "$argon2id$v=19$m=…,t=…,p=…$salt$key", which carries its parameters.
//
// It waits for a hashing slot as the HashClaim on ctx says; if ctx ends
// first it returns ctx.Err(), and ErrBusy if the queue has no place for it
// or MaxWait passes.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.CheckPassword(password); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	hash, err := argon2id.CreateHash(password, &h.params)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return hash, nil
}

// Verify reports whether password matches hash. The hash's own parameters
// are used, so hashes made before the parameters were raised still verify
// (see NeedsRehash). A wrong password is (false, nil); a malformed hash is an
// error. A password longer than MaxLength cannot have been hashed here and is
// refused without hashing.
//
// It waits for a hashing slot as the HashClaim on ctx says; if ctx ends
// first it returns ctx.Err(), and ErrBusy if the queue has no place for it
// or MaxWait passes.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (bool, error) {
	if err := h.checkHash(hash); err != nil {
		return false, fmt.Errorf("auth: verify password: %w", err)
	}
	if len(password) > h.maxLength {
		return false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("auth: verify password: %w", err)
	}
	return ok, nil
}

// VerifyDummy does the work of Verify against a hash of no one's password,
// made when the Hasher was built with its parameters. Call it when there is no
// user to check the password of, so that signing in as an unknown user takes
// as long as signing in with a wrong password. It returns only ctx.Err()
// when ctx ends while waiting for a slot, or ErrBusy.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

// NeedsRehash reports whether hash was made with parameters other than the
// Hasher's (or cannot be read), so that it should be replaced by a fresh Hash
// of the password the next time the user proves they know it.
func (h *Hasher) NeedsRehash(hash string) bool {
	p, _, _, err := argon2id.DecodeHash(hash)
	return err != nil || *p != h.params
}

// checkHash decodes hash and refuses parameters argon2 would panic on, that
// would make any password match, or that are beyond all reason.
func (h *Hasher) checkHash(hash string) error {
	p, _, _, err := argon2id.DecodeHash(hash)
	switch {
	case err != nil:
		return err
	case p.Iterations < 1 || p.Parallelism < 1:
		return fmt.Errorf("argon2id: t=%d, p=%d: must be at least 1", p.Iterations, p.Parallelism)
	case p.KeyLength < min(minHashKeyLength, h.params.KeyLength) || p.SaltLength < min(minHashSaltLength, h.params.SaltLength):
		return fmt.Errorf("argon2id: %d-byte key, %d-byte salt: too short", p.KeyLength, p.SaltLength)
	case p.Memory > max(maxHashMemory, h.params.Memory) || p.Iterations > max(maxHashIterations, h.params.Iterations):
		return fmt.Errorf("argon2id: m=%d, t=%d: beyond the sanity bounds", p.Memory, p.Iterations)
	}
	return nil
}

// acquire takes a hashing slot as the HashClaim on ctx, or gives up when
// ctx ends, when the queue has no place for it, or after MaxWait.
func (h *Hasher) acquire(ctx context.Context) error {
	return h.queue.acquire(ctx, hashClaimFrom(ctx), h.maxWait)
}

func (h *Hasher) release() { h.queue.release() }

// HasherStats is a snapshot of a Hasher's queue.
type HasherStats struct {
	Running int // hashes in progress
	Waiting int // callers waiting for a slot
}

// Stats returns how many hashes run and how many callers wait, for metrics.
func (h *Hasher) Stats() HasherStats {
	r, w := h.queue.stats()
	return HasherStats{Running: r, Waiting: w}
}

// GeneratePassword returns a random password of 20 URL-safe characters
// (120 bits from crypto/rand), for accounts set up by an administrator.
func GeneratePassword() string {
	var b [15]byte
	rand.Read(b[:]) // never fails (see crypto/rand.Read)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// positiveOr returns v, or def when v is not positive.
func positiveOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
