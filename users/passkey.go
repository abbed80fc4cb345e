package users

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/quote"
	"github.com/authrpc/authrpc/storage"
)

// Passkeys (WebAuthn): a user registers them from a session (begin, then
// finish with what the browser's navigator.credentials.create answered),
// lists, renames and removes them, and proves with one who it is: to sign
// in without a password, to authorize a session, as a second factor. The
// ceremonies' state stays in the database (passkey_store.go), never with
// the client.

// DefaultPasskeyCeremonyTTL is how long a begun passkey ceremony may be
// finished (PasskeyOptions.CeremonyTTL).
const DefaultPasskeyCeremonyTTL = 5 * time.Minute

// DefaultMaxPasskeysPerUser is how many passkeys a user may hold
// (PasskeyOptions.MaxPerUser).
const DefaultMaxPasskeysPerUser = 32

// DefaultPasskeyName names a passkey registered without a name.
const DefaultPasskeyName = "Passkey"

// PasskeyOptions configure passkeys (Options.Passkeys). The zero value
// takes the relying party from Options.AppURL, read at every ceremony, so
// that a change of the app_url setting applies at once.
type PasskeyOptions struct {
	// RPID is the relying party id: the domain passkeys are bound to, which
	// the browser's page must be on or under ("example.com" serves
	// "https://app.example.com"). A passkey works only under the id it was
	// registered with. Default: the host of Options.AppURL's URL (without
	// its port). Without either, the passkey methods answer 400 "passkeys
	// are not configured".
	RPID string

	// Origins are the origins a ceremony may come from
	// ("https://app.example.com"; a port when not the default). Default:
	// with RPID, "https://" + RPID; else the origin of Options.AppURL's URL.
	Origins []string

	// RPName is the relying party's name, which the browser may show when
	// creating a passkey. Default: the RPID.
	RPName string

	// UserVerification is what the authenticator must do to check its user
	// (a PIN, a fingerprint): "required", "preferred" or "discouraged".
	// A passkey signs in without a password, so the default, "required",
	// makes it two factors of its own (the device and its user).
	UserVerification string

	// CeremonyTTL is how long a begun registration or sign-in may be
	// finished. Default DefaultPasskeyCeremonyTTL, 5 minutes.
	CeremonyTTL time.Duration

	// MaxPerUser bounds the passkeys a user may hold, so that a session
	// cannot grow its rows (and the exclusion list every registration
	// sends) without end: finish-passkey past it answers 409 and stores
	// nothing. Default DefaultMaxPasskeysPerUser, 32, more than the
	// devices and security keys one person keeps.
	MaxPerUser int
}

// passkeys is the module's passkey configuration.
type passkeys struct {
	opts   PasskeyOptions
	appURL func(ctx context.Context) (string, error)
	tables passkeyTables
	log    *slog.Logger
}

func newPasskeys(o Options, log *slog.Logger) (*passkeys, error) {
	p := &passkeys{opts: o.Passkeys, appURL: o.AppURL, tables: newPasskeyTables(o.TablePrefix), log: log}
	switch p.opts.UserVerification {
	case "":
		p.opts.UserVerification = string(protocol.VerificationRequired)
	case string(protocol.VerificationRequired), string(protocol.VerificationPreferred), string(protocol.VerificationDiscouraged):
	default:
		return nil, fmt.Errorf("users: mount: Options.Passkeys.UserVerification %q: use required, preferred or discouraged", p.opts.UserVerification)
	}
	if p.opts.CeremonyTTL <= 0 {
		p.opts.CeremonyTTL = DefaultPasskeyCeremonyTTL
	}
	if p.opts.MaxPerUser <= 0 {
		p.opts.MaxPerUser = DefaultMaxPasskeysPerUser
	}
	if p.opts.RPID != "" {
		if _, err := p.relyingParty(p.opts.RPID, p.opts.Origins); err != nil {
			return nil, fmt.Errorf("users: mount: Options.Passkeys: %w", err)
		}
	}
	return p, nil
}

// webAuthn returns the relying party as configured now, or refuses with
// ErrInvalid when there is none.
func (p *passkeys) webAuthn(ctx context.Context) (*webauthn.WebAuthn, error) {
	if p.opts.RPID != "" {
		return p.relyingParty(p.opts.RPID, p.opts.Origins)
	}
	notConfigured := refuse(ErrInvalid, "passkeys are not configured: the server has no app URL (the app_url setting)")
	if p.appURL == nil {
		return nil, notConfigured
	}
	base, err := p.appURL(ctx)
	var u *url.URL
	if err == nil {
		u, err = url.Parse(base)
	}
	if err == nil && ((u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "") {
		err = fmt.Errorf("not an absolute http(s) URL: %q", base)
	}
	if err != nil {
		// Unset, or a settings store that failed: logged, and the caller
		// told alike.
		p.log.WarnContext(ctx, "users: no app URL for the passkeys' relying party", "err", err)
		return nil, notConfigured
	}
	origins := p.opts.Origins
	if len(origins) == 0 {
		origins = []string{u.Scheme + "://" + u.Host}
	}
	return p.relyingParty(u.Hostname(), origins)
}

func (p *passkeys) relyingParty(rpID string, origins []string) (*webauthn.WebAuthn, error) {
	if len(origins) == 0 {
		origins = []string{"https://" + rpID}
	}
	name := p.opts.RPName
	if name == "" {
		name = rpID
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          rpID,
		RPDisplayName: name,
		RPOrigins:     origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.UserVerificationRequirement(p.opts.UserVerification),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("users: passkeys: relying party %q: %w", rpID, err)
	}
	return w, nil
}

// Passkey is one of a user's passkeys, as /v1/profile/get-passkeys lists it.
type Passkey struct {
	ID      int64     `json:"id,string"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// LastUsed is when it last proved who its user is; nil if never.
	LastUsed *time.Time `json:"last_used"`
}

func (r *passkeyRow) passkey() Passkey {
	p := Passkey{ID: r.ID, Name: r.Name, Created: r.Created.UTC()}
	if !r.LastUsed.IsZero() {
		t := r.LastUsed.UTC()
		p.LastUsed = &t
	}
	return p
}

// webauthnUser is a user as the library sees one.
type webauthnUser struct {
	handle      []byte
	name        string
	credentials []webauthn.Credential
}

func (u *webauthnUser) WebAuthnID() []byte                         { return u.handle }
func (u *webauthnUser) WebAuthnName() string                       { return u.name }
func (u *webauthnUser) WebAuthnDisplayName() string                { return u.name }
func (u *webauthnUser) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// sessionActor is the actor's session, or a refusal: passkeys are
// registered from a session, which the ceremony is bound to.
func (a Actor) sessionActor() (*auth.Principal, error) {
	p := a.by
	switch {
	case !p.Authenticated():
		return nil, refuse(ErrUnauthenticated, "Not authenticated")
	case p.Kind != auth.KindSession || p.TokenID == 0:
		return nil, refuse(ErrForbidden, "passkeys are managed from a signed-in session, not with an API token")
	}
	return p, nil
}

// registrant is what a registration's two steps start from: the relying
// party as configured now, user id's row, and the user as the library sees
// one (without its credentials, which only BeginPasskey lists).
func (m *Module) registrant(ctx context.Context, userID int64) (*webauthn.WebAuthn, *userRow, *webauthnUser, error) {
	w, err := m.pk.webAuthn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	row, err := m.load(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	handle, err := m.passkeyHandle(ctx, row.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	return w, row, &webauthnUser{handle: handle, name: row.Name}, nil
}

// BeginPasskey begins registering a passkey for the actor's session, as
// /v1/profile/begin-passkey does: it answers the options for the
// browser's navigator.credentials.create (PublicKeyCredentialCreationOptionsJSON,
// the publicKey member, binary values in base64url) and keeps the
// ceremony, bound to the actor's user and session, for
// PasskeyOptions.CeremonyTTL. The user's passkeys are excluded, so that an
// authenticator is not registered twice. A user who holds
// PasskeyOptions.MaxPerUser passkeys is refused with ErrConflict.
func (a Actor) BeginPasskey(ctx context.Context) (json.RawMessage, error) {
	p, err := a.sessionActor()
	if err != nil {
		return nil, err
	}
	m := a.m
	w, row, user, err := m.registrant(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	existing, err := m.userPasskeys(ctx, m.db, row.ID)
	if err != nil {
		return nil, err
	}
	if most := m.pk.opts.MaxPerUser; len(existing) >= most {
		return nil, tooManyPasskeys(most)
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	for i := range existing {
		c := existing[i].credential()
		exclude = append(exclude, c.Descriptor())
	}
	creation, data, err := w.BeginRegistration(user,
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("users: begin passkey: %w", err)
	}
	cer := &ceremonyRow{
		Digest: challengeDigest(data.Challenge), Kind: ceremonyRegister,
		UserID:    sql.NullInt64{Int64: row.ID, Valid: true},
		SessionID: sql.NullInt64{Int64: p.TokenID, Valid: true},
		Expires:   m.stamp().Add(m.pk.opts.CeremonyTTL),
	}
	if err := m.saveCeremony(ctx, cer, data); err != nil {
		return nil, err
	}
	out, err := json.Marshal(creation.Response)
	if err != nil {
		return nil, fmt.Errorf("users: begin passkey: %w", err)
	}
	return out, nil
}

// FinishPasskey completes the registration the actor's session began, as
// /v1/profile/finish-passkey does: credential is the browser's
// PublicKeyCredential as JSON (its toJSON()), name the user's name for it
// (DefaultPasskeyName when empty). A credential that does not parse, or
// fails the checks (challenge, origin, relying party id, user
// verification, attestation), is ErrInvalid and nothing is stored; the
// begun ceremony is used up by any credential that names it. A user who
// holds PasskeyOptions.MaxPerUser passkeys is refused with ErrConflict.
func (a Actor) FinishPasskey(ctx context.Context, credential json.RawMessage, name string) (_ *Passkey, err error) {
	p, err := a.sessionActor()
	if err != nil {
		return nil, err
	}
	if name, err = checkPasskeyName(name, true); err != nil {
		return nil, err
	}
	m := a.m
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return nil, refuse(ErrInvalid, "credential is not a passkey registration: %s", protocolDetails(err))
	}
	data, err := m.takeCeremony(ctx, challengeDigest(parsed.Response.CollectedClientData.Challenge), ceremonyRegister, p.UserID, p.TokenID)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, refuse(ErrInvalid, "no passkey registration of this session has this challenge, or it expired: call begin-passkey again")
	}
	w, row, user, err := m.registrant(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	c, err := w.CreateCredential(user, *data, parsed)
	if err != nil {
		return nil, refuse(ErrInvalid, "the passkey was refused: %s", protocolDetails(err))
	}
	pk := newPasskeyRow(row.ID, data.RelyingPartyID, name, c, m.stamp())
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := m.roomForPasskey(ctx, tx, row.ID); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(pk).ModelTableExpr(m.pk.tables.passkeys).Returning("id").Exec(ctx); err != nil {
			return err
		}
		return a.record(ctx, tx, "users.add-passkey", row.ID, map[string]any{"passkey_id": fmt.Sprint(pk.ID), "name": name})
	})
	if storage.IsUniqueViolation(err) {
		return nil, refuse(ErrConflict, "this passkey is registered already")
	}
	if err != nil {
		return nil, txError(fmt.Errorf("users: finish passkey: %w", err))
	}
	m.factorsChanged(row.ID) // a session confined to enrolling is free now
	out := pk.passkey()
	return &out, nil
}

// roomForPasskey refuses with ErrConflict when user id holds
// PasskeyOptions.MaxPerUser passkeys. The user's row is locked first
// (PostgreSQL; SQLite's transaction holds the write lock), so that two
// registrations finishing at once cannot both take the last place.
func (m *Module) roomForPasskey(ctx context.Context, tx bun.Tx, userID int64) error {
	if _, err := m.findByID(ctx, tx, userID, true); err != nil {
		return err
	}
	n, err := tx.NewSelect().Model((*passkeyRow)(nil)).ModelTableExpr(m.pk.tables.passkeys).
		Where("user_id = ?", userID).Count(ctx)
	if err != nil {
		return fmt.Errorf("count passkeys: %w", err)
	}
	if most := m.pk.opts.MaxPerUser; n >= int64(most) {
		return tooManyPasskeys(most)
	}
	return nil
}

func tooManyPasskeys(most int) *Error {
	return refuse(ErrConflict, "you have %d passkeys, the most one may hold: remove one before adding another", most)
}

// Passkeys returns the actor's passkeys, oldest first, as
// /v1/profile/get-passkeys does.
func (a Actor) Passkeys(ctx context.Context) ([]Passkey, error) {
	if !a.by.Authenticated() {
		return nil, refuse(ErrUnauthenticated, "Not authenticated")
	}
	rows, err := a.m.userPasskeys(ctx, a.m.db, a.by.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]Passkey, len(rows))
	for i := range rows {
		out[i] = rows[i].passkey()
	}
	return out, nil
}

// RenamePasskey renames one of the actor's passkeys, as
// /v1/profile/rename-passkey does: ErrNotFound when it is not the actor's,
// ErrInvalid for a name that is empty, too long or holds control
// characters.
func (a Actor) RenamePasskey(ctx context.Context, id int64, name string) (err error) {
	if !a.by.Authenticated() {
		return refuse(ErrUnauthenticated, "Not authenticated")
	}
	if name, err = checkPasskeyName(name, false); err != nil {
		return err
	}
	m := a.m
	return txError(m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*passkeyRow)(nil)).ModelTableExpr(m.pk.tables.passkeys).
			Set("name = ?", name).Where("id = ? AND user_id = ?", id, a.by.UserID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: rename passkey %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return refuse(ErrNotFound, "passkey %d not found", id)
		}
		return a.record(ctx, tx, "users.rename-passkey", a.by.UserID, map[string]any{"passkey_id": fmt.Sprint(id), "name": name})
	}))
}

// RemovePasskey removes one of the actor's passkeys, as
// /v1/profile/remove-passkey does (which requires a recent authorize):
// ErrNotFound when it is not the actor's.
func (a Actor) RemovePasskey(ctx context.Context, id int64) error {
	if !a.by.Authenticated() {
		return refuse(ErrUnauthenticated, "Not authenticated")
	}
	m := a.m
	err := txError(m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*passkeyRow)(nil)).ModelTableExpr(m.pk.tables.passkeys).
			Where("id = ? AND user_id = ?", id, a.by.UserID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: remove passkey %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return refuse(ErrNotFound, "passkey %d not found", id)
		}
		return a.record(ctx, tx, "users.remove-passkey", a.by.UserID, map[string]any{"passkey_id": fmt.Sprint(id)})
	}))
	if err != nil {
		return err
	}
	// The last factor gone, the recovery codes have nothing to recover.
	if err := m.dropLoneRecoveryCodes(ctx, &User{ID: a.by.UserID}); err != nil {
		return err
	}
	m.factorsChanged(a.by.UserID)
	return nil
}

// RemovePasskeys removes all of user id's passkeys and reports how many
// there were: for the host's code, such as an administrator's removal of
// a user's factors, which checks its own rules first.
func (m *Module) RemovePasskeys(ctx context.Context, db bun.IDB, userID int64) (int64, error) {
	if db == nil {
		db = m.db
	}
	res, err := db.NewDelete().Model((*passkeyRow)(nil)).ModelTableExpr(m.pk.tables.passkeys).
		Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("users: remove passkeys of user %d: %w", userID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// HasPasskey reports whether user id has a passkey: a second factor.
func (m *Module) HasPasskey(ctx context.Context, userID int64) (bool, error) {
	n, err := m.db.NewSelect().Model((*passkeyRow)(nil)).ModelTableExpr(m.pk.tables.passkeys).
		Where("user_id = ?", userID).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("users: passkeys of user %d: %w", userID, err)
	}
	return n > 0, nil
}

// maxPasskeyName bounds a passkey's name, in characters.
const maxPasskeyName = 64

// checkPasskeyName trims a passkey's name and checks it: 1 to 64 printable
// characters. An empty name is DefaultPasskeyName when orDefault.
func checkPasskeyName(s string, orDefault bool) (string, error) {
	name := strings.TrimSpace(s)
	if name == "" && orDefault {
		return DefaultPasskeyName, nil
	}
	if !printableName(name, maxPasskeyName) {
		return "", refuse(ErrInvalid, "passkey name %s is not valid: use 1 to %d printable characters", quote.Short(s), maxPasskeyName)
	}
	return name, nil
}

// protocolDetails is what a library refusal says, for the client.
func protocolDetails(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.Details != "" {
			return pe.Details
		}
		return pe.Type
	}
	return err.Error()
}

// printableName reports whether name is 1 to most printable characters
// (letters, marks, numbers, punctuation, symbols and the plain space), so
// that no control, format (bidi overrides) or invalid byte reaches a list a
// human reads.
func printableName(name string, most int) bool {
	if name == "" || len(name) > most*utf8.UTFMax || !utf8.ValidString(name) || utf8.RuneCountInString(name) > most {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
