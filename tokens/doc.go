// Package tokens is the API access tokens module (/v1/api-tokens/*): users
// make long-lived tokens ("tok_…") for scripts and services, give each some
// of their own permissions, and disable or delete them, on SQLite or
// PostgreSQL.
//
// Tokens belong to users, so the module is mounted after the users module,
// with it:
//
//	u, err := users.Mount(ctx, reg, db, users.Options{})
//	...
//	_, err = tokens.Mount(ctx, reg, db, u, tokens.Options{})
//
// Mount migrates the table api_tokens (which references users(id) ON DELETE
// CASCADE), registers the methods and registers the authenticator of API
// tokens on reg.Auth(). The module runs no background work: its Close,
// which Mount hands to reg.OnShutdown, stops nothing.
//
// The table's name takes the users module's table prefix
// (users.Options.TablePrefix), as do its constraints and the record of its
// migrations: with "app_", app_api_tokens references app_users, and a host's
// own api_tokens table is left alone.
//
// # Methods
//
// Every method takes the permission "user", and a caller sees and changes
// only its own tokens: another user's token id is answered exactly as an
// unknown one, 404 token "N" not found. A token_id is the token's id as a
// string of digits; anything else is a 400.
//
//   - read(options?): the caller's tokens, {id, name, enabled, permissions,
//     created}, with meta.total; read options filter id (=), name (=, like)
//     and enabled (=), and sort by id, name, enabled and created (default
//     id); at most 100 a page. The token and its digest are never answered.
//   - create(name): a new enabled token holding no permissions, answered
//     with the plain token in "token": the only time it is shown; only its
//     SHA-256 digest is stored. Names are trimmed, 1 to 64 printable
//     characters, unique per user (409); a user holds at most
//     Options.MaxPerUser tokens (100).
//   - delete(token_id), set-enabled(token_id, enabled).
//   - get-permissions(token_id): each declared permission with the token's
//     own grant (enabled) and whether the owner holds it (user_enabled).
//   - set-permissions(token_id, permissions) replaces the token's grants,
//     update-permissions(token_id, permissions) merges into them. An
//     undeclared name is a 400, and so is a new grant of a permission the
//     owner does not hold; revoking is always allowed.
//
// Changes answer 204 when nothing changed. They need a session: a call made
// with an API token may read tokens but not create or change them (403), so
// that a leaked token cannot mint a successor before it is disabled, nor
// raise its own permissions.
//
// # Authentication
//
// A call with "Authorization: Bearer tok_…" is made by the token's owner,
// as auth.KindAPIToken with the token's id, when the token exists and is
// enabled and its owner exists and is enabled; otherwise the caller is a
// guest. Its permissions are the owner's intersected with the token's own,
// so what the owner loses the token loses at once; a grant the owner has
// lost stays stored, and counts again if the owner regains the permission.
// Root's tokens can be given any declared permission, but do not pass the
// "root" tag (see auth.Principal.Allowed). Tokens do not expire, and they
// survive a disabled owner (they work again when the owner is enabled);
// deleting the owner deletes them.
//
// # Tokens and credentials
//
// A token never changes the credentials of its own user or of root: the
// users module refuses it set-password, set-username and profile/set-email
// on them (403), and this module refuses it every change to tokens, so a
// leaked token cannot trade itself for a password, a session or a
// successor that outlives its revocation. Nor does the users module let it
// grant a user permissions or set the password of a user holding more than
// the defaults: a user of its making would be such a successor. It may
// administer other users otherwise (see the users package).
//
// Recovering an account ends the owner's tokens: Mount registers with
// users.Module.OnCredentialsReset, so a password reset by mail and a
// password set by an administrator delete all the user's tokens in the
// transaction that stores the password, and the users module's
// invalidation by user id then drops their cached callers on every
// instance. users.Options.KeepTokensOnAdminSetPassword keeps them on an
// administrator's change; a reset by mail always deletes them.
//
// The registry's auth.Mux caches callers. This module drops a token's
// cached caller after every change to it, and the users module's
// invalidations by user id (a disabled or deleted owner, changed
// permissions) drop the owner's token callers as well, so every change
// takes effect on the very next call.
package tokens
