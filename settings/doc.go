// Package settings stores the application settings (/v1/admin/settings/*)
// and hands them to the other modules.
//
// The settings object holds app_url (the base of links sent by mail),
// smtp_from, smtp_hostname, smtp_port, smtp_username, smtp_password,
// signup_enabled, the OAuth providers (oauth_providers: {"<name>": {type,
// issuer, client_id, client_secret, scopes}}, oauth_redirect_urls,
// oauth_link_verified_email; Module.OAuth fits oauth.Options.Source), and
// whatever fields the host adds through a struct of its
// own (Options.Extra), which are reflected into the update method's schema
// like any parameter:
//
//	type Branding struct {
//		SiteName string `json:"site_name" jsonschema:"maxLength=100"`
//		Theme    string `json:"theme" jsonschema:"enum=light,enum=dark"`
//	}
//	mod, err := settings.Mount(ctx, reg, db, settings.Options{Extra: &Branding{Theme: "light"}})
//	…
//	users.Mount(ctx, reg, db, users.Options{SignupEnabled: mod.SignupEnabled})
//	s, _ := mod.Get(ctx)
//	var b Branding
//	err = s.Extra(&b)
//
// The methods, for callers holding Options.Permission ("admin"):
//
//   - read answers the settings; never the SMTP password, only
//     smtp_password_set, never an OAuth client secret, only each
//     provider's client_secret_set, and never a secret host field (see
//     below).
//   - update(settings) stores the fields given (unknown ones are refused
//     with -32808) and answers the settings as read does. An empty
//     smtp_password clears it, and so does changing smtp_hostname without
//     giving a password: a stored password is only ever sent to the server
//     it was entered for. oauth_providers replaces the providers whole; a
//     provider given without client_secret keeps its stored one while its
//     type, issuer and client_id stay the same (a secret is only ever
//     sent to the issuer it was entered for). Values a field does not take are refused with
//     -32808 naming the field and the rule. A call made with an API token
//     may not give app_url, smtp_hostname, smtp_port, smtp_username or
//     smtp_password (403): they decide where the password reset mail and
//     its link go, and a token that could reroute them could reset its own
//     user's password.
//   - test-smtp(settings) connects to the SMTP server, authenticates and
//     quits (see package mailer), taking the stored value for each field
//     left out; it answers 200, or 400 quoting the SMTP reply or the
//     network error, within Options.Mailer.Timeout.
//
// Each setting is a row of its own (name, JSON value), so an update writes
// only the fields it sets; updates run one at a time across processes
// (a table lock on PostgreSQL, the write lock on SQLite). The Module keeps
// the settings in memory, replaced after each update commits, so readers in
// the process see a change at once and reading costs no database round
// trip; Reload reads them again for changes made by other processes.
//
// # Secrets at rest
//
// smtp_password, oauth_providers (it holds the client secrets) and the host
// fields tagged settings:"secret" are secret:
// write-only (read never answers them) and, with Options.Keys, encrypted
// in the database with AES-256-GCM under a key the host holds, typically
// from its environment:
//
//	keys, err := settings.ParseKeyring(os.Getenv("AUTHRPC_SETTINGS_KEY"))
//	mod, err := settings.Mount(ctx, reg, db, settings.Options{Keys: keys})
//
// A sealed value is stored as "enc:v1:<key id>:<base64>", so plain values,
// and values under each key, are told apart. Plain values stored before
// keep working and are encrypted at the next update. A value that does not
// decrypt (its key is missing, or it was changed) is never taken for
// another: Get and SMTP answer a *SecretError (errors.Is ErrUnknownKey or
// ErrUndecryptable), Mount logs it, the other settings work, and storing the
// secret again replaces it.
//
// To rotate the key: mount with NewKeyring(newKey, oldKey) (the new key
// encrypts, both decrypt), call Reencrypt, then drop the old key. With
// several instances, first give every instance the new key as an old one,
// so that none meets a value it cannot read, then make it current.
//
// With nothing stored, signup_enabled is false (signup is closed until an
// administrator opens it), smtp_port is 587 and the rest is empty
// (Options.Defaults changes that).
//
// The settings live in the table authrpc_settings; Options.TablePrefix goes
// before its name and before the record of its migrations ("auth_":
// auth_authrpc_settings, auth_authrpc_migrations), so that services mounted
// under different prefixes on one database keep settings of their own.
package settings
