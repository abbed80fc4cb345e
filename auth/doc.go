// Package auth says who is calling and what they may do. It is the part of
// the library every other package meets: the rpc transport turns a bearer
// token into a *Principal and checks it against a method's permission tags,
// and the users and tokens modules mint the tokens, hash the passwords and
// answer the lookups. It needs no database of its own.
//
// A Principal is the caller: user, token kind and effective permissions; a
// nil *Principal is a guest. Methods list tags (Anyone, Guest, User, Root or
// a name the host declared in a Permissions set), and Principal.Allowed
// checks them. CheckGrant and CheckChange hold the rule for changing what
// someone holds: a caller grants only what it holds, and a call made with
// an API token grants nothing.
//
// Tokens are "<kind>_" and 32 random bytes in base64url (NewToken). Only
// their SHA-256 Digest is stored, and TokenKind recognises one by its shape
// without any I/O. Passwords are hashed with argon2id by a Hasher, which
// bounds how many hashes run at once and can spend the same time on an
// unknown user as on a wrong password. Its callers wait in a bounded queue
// that is fair by the HashClaim on their context: a share of places per
// client address, and priority for callers known to be genuine.
//
// A Mux sends each bearer token to the Authenticator registered for its kind
// (or, for a host's own formats such as JWTs, for its prefix or a match
// function) and caches the principals they return, so most calls cost no
// lookup.
// Whoever changes what a token stands for calls Mux.Invalidate, and
// Mux.Share carries that to the other instances over a pubsub.Channel
// (such as a storage.Channel). A Limiter rate-limits sign-ins and other calls worth
// abusing in process memory; RateLimiter is what it shares with
// storage.Limiter, whose buckets every instance on a database shares.
// AddrKey keys a client address, an IPv6 one on its /64.
package auth
