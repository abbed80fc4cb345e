// Package users is the users module: users administration
// (/v1/admin/users/*), the caller's profile (/v1/profile/*) and sessions
// (/v1/session/*), on SQLite or PostgreSQL.
//
// A host mounts it with one call, after declaring its permissions:
//
//	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(
//		auth.Permission{Name: "admin", Title: "Administrator"},
//	)})
//	mod, err := users.Mount(ctx, reg, db, users.Options{RootPassword: os.Getenv("ROOT_PASSWORD")})
//	...
//	defer mod.Close(ctx)
//
// The /v1/admin/users methods require Options.AdminPermission ("admin" by
// default), which must be declared before Mount: Mount fails otherwise.
//
// Mount migrates the tables users, user_sessions and user_tokens, creates
// the root user (id 1, named root) on first start, registers the methods and
// the session authenticator, deletes expired sessions and tokens, and
// starts doing so in the background every Options.CleanupInterval.
//
// Signup (/v1/session/signup) is closed unless Options.SignupEnabled opens
// it: the settings module's SignupEnabled (the signup_enabled setting, which
// an administrator turns on), or SignupOpen for always.
//
// # Table prefix
//
// Options.TablePrefix goes before the name of every table, index and
// constraint the module creates, for a host that has tables of those names
// of its own, or that mounts the module twice on one database: with
// "auth_", the tables are auth_users, auth_user_sessions and
// auth_user_tokens (and auth_user_passkeys, auth_user_passkey_handles and
// auth_user_passkey_ceremonies; with their trigram indexes on PostgreSQL, and on SQLite
// the trigram index auth_users_search with its triggers), the rate
// limits are in auth_authrpc_rate_limits and the migrations are recorded in
// auth_authrpc_migrations. Two prefixes share no user, session, token or
// rate limit. The tokens module follows it (Module.TablePrefix); settings
// and the call log take the same in their Options, and storage.Sync in
// SyncOptions.ChannelPrefix. The default "" keeps the names above.
//
// # Users
//
// A user has an id (64-bit, sent as a JSON string; ids of new users start at
// 100), a unique name, an optional unique email (with email_confirmed) and
// telegram name, an enabled flag, permissions {name: true} over the
// permissions the host declares, a creation time and an argon2id password
// hash, which never leaves the module. Names are lower-cased and are 3 to 32
// of a-z 0-9 _ . @ - (not all digits, which would read as an id) or an email
// address; a user_id parameter is an id or a name everywhere.
//
// admin/users/read's search is a case-insensitive substring match over the
// name, email and telegram name (LIKE, % and _ matching themselves),
// served by trigram indexes: pg_trgm's on PostgreSQL, an FTS5 trigram index
// on SQLite, which triggers keep in step with every change of users. On
// SQLite a search of three characters or more that the index finds in
// fewer than 1,000 users reads only those; a shorter or commoner one reads
// the table, as it then costs less. Either way every row is checked with
// LIKE, so the answer does not depend on the path.
//
// Root holds every declared permission. Nobody changes root's name,
// permissions or enabled flag, or deletes root; only root sets root's
// password. Nobody deletes or disables themselves or changes their own
// permissions, and a caller grants or revokes only permissions it holds
// itself. Likewise a caller may not set the password of a user who holds a
// permission the caller lacks, since signing in as them would grant it.
//
// # API tokens and credentials
//
// A call made with an API token (auth.KindAPIToken) never changes the
// credentials of its own user or of root: set-password, set-username (the
// name, or the password with it) and profile/set-email answer 403 "an API
// token cannot change …". Otherwise a leaked token could trade itself for
// a password, and so a session that outlives the token's revocation and
// locks the owner out; the email counts because a reset link goes to it.
// Root's API tokens are not root for these methods (nor for the root tag,
// nor for holding every permission: they hold what they were given).
//
// Nor does a call made with an API token grant permissions: create with
// permissions beyond the defaults, and set-permissions or
// update-permissions that turn one on, answer 403 "an API token cannot
// grant permissions", and so does set-password (or set-username with a
// password) of a user holding a permission beyond the defaults. A leaked
// token could otherwise mint a successor, a user of its making or one it
// took over, holding its permissions, whose session outlives the token and
// recovers nothing for the owner: it could reset the owner's password.
// Sessions grant as before. A token may still administer other users
// otherwise (create them with the defaults, revoke, rename them, set the
// passwords of users holding only the defaults): that is what provisioning
// scripts use tokens for. The telegram name signs nobody in, so a token
// may set it.
//
// # Recovery ends every credential
//
// A password reset by mail (set-password-by-token) and a password set by an
// administrator (set-password, set-username with new_password) end the
// user's sessions (all but the one a user sets its own password with) and,
// through OnCredentialsReset, the credentials other modules hold for the
// user: the tokens module deletes the user's API tokens. Both happen in the
// transaction that stores the password; after it commits, the user's cached
// callers are dropped on every instance. Options.KeepTokensOnAdminSetPassword
// keeps the API tokens on an administrator's change; a reset by mail always
// ends them.
//
// # Sessions
//
// /v1/session/signin trades a user name and password for a session token
// ("ses_…"), of which only the SHA-256 digest is stored. Sessions last
// Options.SessionTTL (30 days) and end at signout. Without credentials,
// signin describes the caller. An unknown user, a wrong password and a
// disabled user are answered with the same 401 after the same argon2 work.
// Sign-in is rate limited (429 with Retry-After) so that nobody can lock
// somebody else out: the pair of user name and client address hard, the
// address alone, and the name alone only softly, since a name whose budget
// is spent stays open to every address at a low rate (see Options). The
// counters are shared by every instance on the database. The hasher bounds
// how many argon2 runs, 19 MiB each, happen at once, and how many wait: a
// full queue answers 429 at once.
//
// The queue for the hasher is fair (auth.HashClaim), so that a flood of
// wrong passwords spread over many addresses, each within its budget,
// cannot refuse a real user's right password: each client address (an IPv6
// /64) holds at most a quarter of the places; a user signing in from one of
// the 8 addresses they last signed in from (users.signin_addrs), and a
// signed-in caller setting a password, wait ahead of everyone; an address
// with more than 10 sign-in attempts in about a minute, whatever their
// outcome (one forgiven every 6 s, counted in process), waits behind; and a newcomer to a
// full queue takes the place of a waiter behind it. An unknown name and a
// wrong password wait alike.
//
// /v1/session/signup answers a taken user name, email or telegram name with
// one 409, "the user name or email is already taken" (naming the fields
// given), so that it does not tell which. It still tells that one of them
// is: an email address paired with a fresh name is taken only if it has an
// account. Mailing that account instead and answering 200 would hide it
// only until the caller tries to sign in with the fresh name, so it waits
// for a signup that signs in only after confirming the email.
//
// The authenticator resolves session tokens for the registry's auth.Mux,
// which caches the callers. Every change that affects a caller (disabling,
// deleting, a new password, name or permissions, signing out) drops the
// cached entries after it commits, so the next call sees it.
//
// # The session list
//
// Each session records its creation, its last activity, the client address
// of its sign-in (the registry's trusted-proxy rule) and its User-Agent,
// with the device, browser and OS parsed from it
// (github.com/mileusna/useragent). /v1/profile/get-sessions lists the
// caller's sessions (rows {id, current, created, last_activity, expires,
// remote_address, user_agent, device, browser, os}; the id is the
// session's, never its token), sign-out-session(session_id) ends one (404
// when it is not the caller's) and sign-out-all-sessions ends all but the
// current one. /v1/admin/users/get-sessions(user_id),
// sign-out-session(user_id, session_id) and sign-out-all-sessions(user_id)
// do the same for administrators (ending all of them); only root ends
// root's. An ended session's cached callers are dropped and its sockets
// closed with 4000 on every instance; the user's other sessions and API
// tokens go on.
//
// The last activity costs a call no write: the registry tells the module
// of every signed-in call (rpc.Registry.OnActivity), which remembers per
// session when it last asked for a write and, at most once a minute,
// queues the session for a writer goroutine. Its UPDATE skips the rows
// another instance wrote within the minute, so a session's last_activity
// is written at most once a minute by all instances together.
//
// # Step-up authorization
//
// /v1/session/authorize(credentials) proves again that the caller is the
// session's user ({"password": "…"}) and marks the session authorized
// (auth.Principal.AuthorizedAt): for rpc.Options.AuthorizedMaxAge (5
// minutes) it may call the methods that require a recent authorization
// (rpc.Method.RequireAuthorization), which answer 403 with
// error.data.meta.authorization_required true otherwise.
// profile/sign-out-all-sessions requires it; a host requires it of any
// other method with rpc.Registry.RequireAuthorization. API tokens never
// authorize. Attempts count against the sign-in limits of the user's name
// and the client's address. Module.AddVerifier adds other kinds of
// credentials (a second factor, a passkey, an OAuth code) beside the
// password: a Verifier names the field that selects it and checks the
// credentials for the user.
//
// # Second factors
//
// A Verifier with a Method and Enrolled is a second factor: TOTP
// ("totp_code", Method "totp") and recovery codes ("recovery_code",
// "recovery_code") are the module's; a passkey plugs in the same way. A
// user a second factor is Enrolled for who signs in with a correct
// password (or through OAuth) gets no session: the answer is 401 with
// error.data.meta.second_factor {token, methods} (Error.SecondFactor from
// SignIn), and /v1/session/signin with {second_factor_token, totp_code |
// recovery_code | passkey…} completes it (Module.CompleteSignIn). The
// token is stored by digest (user_tokens, kind auth.KindSecondFactor),
// lives Options.SecondFactorTTL (5 minutes), completes one sign-in of its
// own user on any instance and survives wrong codes until then; a wrong
// code is a failed sign-in of the user from that address (the sign-in
// limits), and the correct password's attempt is forgiven only once the
// factor is right.
//
// TOTP (RFC 6238, 30 s, 6 digits, SHA-1, github.com/pquerna/otp) is
// enrolled with /v1/profile/begin-totp (a recent authorization; answers
// the secret, its otpauth:// URI and a QR PNG) and confirm-totp(code)
// (answers ten recovery codes when the user had none). Secrets are sealed
// by Options.Keyring (a *settings.Keyring: "enc:v1:…", bound to the user);
// without one TOTP is refused with 400. A code is accepted once: the time
// step of the last accepted code is stored (user_totp.last_step) and
// taken by a conditional update, so a replay, or an older step's code,
// is refused on every instance. Recovery codes are stored as SHA-256
// digests and spent by deleting their row; new-recovery-codes voids the
// old ones; they count as a factor only beside another one.
//
// /v1/admin/users/remove-factors(user_id) (admin, recent authorization)
// removes TOTP, recovery codes and whatever the FactorRemovers added with
// OnRemoveFactors keep (passkeys), in one transaction, ends the user's
// sessions and mails the user (mailer.TemplateFactorsRemoved).
// Options.RequireFactorFor names permissions whose holders must have a
// factor: such a user without one signs in, but its sessions may call only
// EnrolmentMethods (auth.Principal.Confined); the others answer 403 with
// error.data.meta.second_factor_required true until a factor is enrolled.
//
// # Email
//
// /v1/session/send-confirmation-email and send-password-reset-email take a
// user name or an email address and mail that user a link,
// "<app_url>/confirm-email?token=cnf_…" or "<app_url>/reset-password?token=rst_…",
// through Options.Mailer, with the base from Options.AppURL (never from the
// request). They answer 200 without data whether or not the user exists, has
// an email or may get the mail: the request only checks that mail is
// configured (else 400, alike for everyone) and the rate limits (429, per
// user_id as given and per client address), and queues the rest, finding the
// user included, for background workers, whose failures are logged. Disabled
// users get no mail; a confirmed email gets no confirmation mail; root's
// password is not reset by mail.
//
// The tokens are single-use and expire (24 hours, 1 hour); only their
// digests are stored, in user_tokens, with the address they were mailed to.
// A new link voids the older one of its kind; disabling or deleting the user
// voids all, and a password set by an administrator voids reset links.
// confirm-email-by-token confirms the address the link went to, if the user
// still has it. set-password-by-token checks the password's rules before it
// uses the token, sets the password, confirms the email the link went to and
// ends all the user's sessions and API tokens. A token that is unknown,
// used, expired or of the other kind is refused with one 400, "invalid or
// expired token".
//
// # From Go
//
// The methods are thin adapters over operations on ids, which the host
// calls too. Create, Delete, SetEnabled, SetPassword, SetPermissions,
// UpdatePermissions, Rename, SetEmail and SetTelegramName act as root
// through no session, with the API's rules; As(principal) returns an
// Actor whose methods of the same names act as that caller, with the rules
// that depend on who acts (see Actor), for a host's own methods. SignIn,
// SignUp, SendConfirmationEmail, SendPasswordResetEmail, ConfirmEmail and
// ResetPassword are the session methods' operations; Actor.SignOut ends
// the caller's session. Actor.Sessions, EndSession, EndOtherSessions,
// EndAllSessions and Authorize are the session list's and the step-up's
// (Module.Sessions, EndSession and EndAllSessions act as the host). Lookup, FindByName and FindByEmail find a user.
// OnSignup, OnSignin and OnDelete add hooks that run after the change
// commits.
//
// A refusal is an *Error whose Reason callers branch on with errors.Is:
// ErrNotFound, ErrInvalid, ErrConflict, ErrForbidden, ErrUnauthenticated,
// ErrLimited (with RetryAfter), ErrInvalidToken, ErrMailNotConfigured; its
// Message is what the API answers. A full hashing queue is auth.ErrBusy;
// anything else is a failure, wrapped with context. The methods answer
// the reasons as 404, 400, 409, 403, 401, 429 and 400.
//
// # OAuth
//
// With Options.OAuth (an *oauth.Module), signin and signup also take
// {oauth_provider, oauth_code, oauth_redirect_url, oauth_state}
// (SignInOAuth): the code is exchanged by the oauth module, and the
// identity (provider, subject) it answers is linked to one user in the
// table user_identities. Its first sign-in links to the existing user of
// its email only when the provider verified the email and
// oauth.Config.LinkVerifiedEmail allows it; otherwise, when no user has
// the email, it signs up a user without a password (the email kept only
// when verified) while signup is open; otherwise it is refused with
// nothing linked. /v1/profile/get-identities and remove-identity (which
// requires a recent authorization, and is never the last way to sign in:
// 409) and /v1/admin/users/get-identities read and unlink them. Authorize
// takes the same credentials: a fresh code of an identity linked to the
// caller (the Verifier of "oauth_code").
//
// # Passkeys
//
// Passkeys are WebAuthn credentials (github.com/go-webauthn/webauthn),
// discoverable and user-verified by default (PasskeyOptions). A signed-in
// session registers one in two steps: /v1/profile/begin-passkey (which
// requires a recent authorization) answers the creation options for
// navigator.credentials.create, and /v1/profile/finish-passkey(credential,
// name?) checks the browser's answer and stores the passkey
// (user_passkeys: credential id, public key, relying party id, counter,
// AAGUID, transports, backup flags). get-passkeys, rename-passkey and
// remove-passkey (recent authorization) manage them.
// /v1/session/begin-passkey-signin, open to anyone, answers request options
// with a challenge_token; the browser's assertion with that token,
// {passkey, challenge_token}, signs in without a password (signin, under
// the sign-in limits of the passkey's user as a password is), authorizes a
// session, and completes a sign-in that asked for a second factor: a user
// with a passkey has the second factor "passkey". The ceremonies' state
// (challenge, relying party, user verification) stays in the database
// (user_passkey_ceremonies) until it is used, once, or expires
// (PasskeyOptions.CeremonyTTL, 5 minutes, by Options.Now): a registration
// keyed by its challenge and bound to the user and session that began it,
// an assertion by the digest of its token. Nothing of it is trusted from
// the client. The relying party id and origins are
// PasskeyOptions.RPID and Origins, or else the host and origin of
// Options.AppURL (the app_url setting) at each ceremony. An assertion whose
// signature counter does not move forward is refused (the authenticator
// may be cloned; it is logged), and the counter, the user-verified and
// backup-state flags and the time of use are stored at each use. Each user
// has one random 32-byte WebAuthn user handle (user_passkey_handles), never
// the user's id. Actor.BeginPasskey, FinishPasskey, Passkeys,
// RenamePasskey, RemovePasskey, Module.BeginPasskeySignIn, SignInPasskey,
// PasskeyCredentials (for Authorize), HasPasskey and RemovePasskeys are
// the Go surface.
//
// # For other modules
//
// Module.Lookup and Module.Permissions give a user and their effective
// permissions by id, for API tokens; the user_sessions and future per-user
// token tables reference users(id) ON DELETE CASCADE. A module that keeps
// credentials of its own for users ends them in Module.OnCredentialsReset,
// as the tokens module does.
package users
