package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/authrpc/authrpc/auth"
)

// A host declares its permissions once; methods then list them as tags.
func ExamplePermissions() {
	perms := auth.NewPermissions(
		auth.Permission{Name: "admin", Title: "Administer users"},
		auth.Permission{Name: "reports.read", Title: "Read reports", Default: true},
	)
	fmt.Println("new users hold:", perms.Defaults())

	caller := &auth.Principal{UserID: 100, Permissions: perms.Defaults()}
	fmt.Println("may read reports:", caller.Allowed([]string{"reports.read"}))
	fmt.Println("may administer:", caller.Allowed([]string{auth.Root, "admin"}))
	// Output:
	// new users hold: map[reports.read:true]
	// may read reports: true
	// may administer: false
}

// Mint a token, show the plain text once, and store only its digest.
func ExampleNewToken() {
	plain, digest, err := auth.NewToken(auth.KindAPIToken)
	if err != nil {
		panic(err)
	}
	kind, ok := auth.TokenKind(plain)
	fmt.Println(strings.HasPrefix(plain, "tok_"), len(plain), kind, ok)
	fmt.Println(len(digest), string(digest) == string(auth.Digest(plain)))
	// Output:
	// true 47 tok true
	// 32 true
}

// Hash a password when it is set, verify it at sign-in, and spend the same
// time when there is no such user.
func ExampleHasher() {
	ctx := context.Background()
	h := auth.NewHasher(auth.HasherOptions{}) // OWASP's argon2id parameters, 4 hashes at a time

	if err := h.CheckPassword("short"); err != nil {
		fmt.Println(err)
	}
	hash, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	ok, err := h.Verify(ctx, "correct horse battery staple", hash)
	fmt.Println(ok, err)
	ok, err = h.Verify(ctx, "wrong", hash)
	fmt.Println(ok, err)

	// Signing in as someone unknown: do the work anyway, then answer as for a wrong password.
	if err := h.VerifyDummy(ctx, "whatever they typed"); err != nil {
		panic(err)
	}
	// Output:
	// password must be at least 8 characters
	// true <nil>
	// false <nil>
}

// Say who waits for a hashing slot, so that a flood of sign-ins from other
// addresses, or from this one, does not refuse everybody: the claim's key
// bounds one address's places in the queue, and its priority puts a caller
// known to be genuine ahead.
func ExampleWithHashClaim() {
	h := auth.NewHasher(auth.HasherOptions{MaxConcurrent: 2, MaxQueue: 16}) // at most 4 places per key
	hash, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		panic(err)
	}

	// At sign-in, with the address the trusted proxy saw.
	ctx := auth.WithHashClaim(context.Background(), auth.HashClaim{
		Key:      auth.AddrKey("2001:db8:1:2::7"),
		Priority: auth.HashPriorityHigh, // this user signed in from there before
	})
	ok, err := h.Verify(ctx, "correct horse battery staple", hash)
	fmt.Println(ok, err)
	// Output:
	// true <nil>
}

// The users module registers an authenticator for sessions; the transport
// calls the Mux with each bearer token.
func ExampleMux() {
	ctx := context.Background()

	// A stand-in for the sessions table: principals by token digest.
	var mu sync.Mutex
	sessions := map[string]*auth.Principal{}
	lookups := 0

	mux := auth.NewMux(auth.MuxOptions{})
	mux.Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		mu.Lock()
		defer mu.Unlock()
		lookups++
		p, ok := sessions[string(auth.Digest(token))]
		if !ok {
			return nil, auth.ErrUnknownToken
		}
		return p, nil
	}))

	// Sign in: mint a session token and store its digest.
	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		panic(err)
	}
	mu.Lock()
	sessions[string(digest)] = &auth.Principal{UserID: 100, Username: "ann", Kind: auth.KindSession, TokenID: 1}
	mu.Unlock()

	for range 3 {
		p, err := mux.Authenticate(ctx, token)
		fmt.Println(p.Username, err)
	}
	fmt.Println("lookups:", lookups) // the other two came from the cache

	// Sign out: delete the session, then drop it from the cache.
	mu.Lock()
	delete(sessions, string(digest))
	mu.Unlock()
	mux.Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 1})
	_, err = mux.Authenticate(ctx, token)
	fmt.Println(err)

	p, err := mux.Authenticate(ctx, "") // no token: a guest
	fmt.Println(p == nil, err)
	// Output:
	// ann <nil>
	// ann <nil>
	// ann <nil>
	// lookups: 1
	// auth: unknown token
	// true <nil>
}

// Accept a bearer format of the host's own (here JWTs, which start "eyJ")
// beside the built-in sessions, behind the same cache and invalidation.
func ExampleMux_HandlePrefix() {
	ctx := context.Background()
	mux := auth.NewMux(auth.MuxOptions{})
	mux.HandlePrefix("jwt", "eyJ", auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		// Verify the signature and the expiry here, then map the subject
		// to a user id of the host's own.
		if token != "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.sig" {
			return nil, auth.ErrUnknownToken
		}
		return &auth.Principal{UserID: 42, Username: "kim", Permissions: map[string]bool{"admin": true}}, nil
	}))

	p, err := mux.Authenticate(ctx, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.sig")
	fmt.Println(p.Username, p.Kind, p.Has("admin"), err)
	_, err = mux.Authenticate(ctx, "eyJforged")
	fmt.Println(err)
	_, err = mux.Authenticate(ctx, "nobody-takes-this")
	fmt.Println(err)
	mux.Invalidate(auth.Invalidation{Kind: "jwt"}) // after revoking them
	// Output:
	// kim jwt true <nil>
	// auth: unknown token
	// auth: unknown token: no authenticator takes this token
}

// Refuse a sixth sign-in attempt a minute from one address.
func ExampleLimiter() {
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 5.0 / 60, Burst: 5})
	for i := range 6 {
		fmt.Println(i+1, l.Allow("203.0.113.7"))
	}
	// Output:
	// 1 true
	// 2 true
	// 3 true
	// 4 true
	// 5 true
	// 6 false
}
