package settings

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
)

// Keys of the built-in settings.
const (
	keyAppURL          = "app_url"
	keySMTPFrom        = "smtp_from"
	keySMTPHostname    = "smtp_hostname"
	keySMTPPort        = "smtp_port"
	keySMTPUsername    = "smtp_username"
	keySMTPPassword    = "smtp_password"
	keySignupEnabled   = "signup_enabled"
	keySMTPPasswordSet = "smtp_password_set" // read only

	// The security notices' off switches: false (the zero value) sends.
	keyNoNewSigninMail       = "no_new_signin_mail"
	keyNoPasswordChangedMail = "no_password_changed_mail"
	keyNoEmailChangedMail    = "no_email_changed_mail"
)

var builtinKeys = []string{keyAppURL, keySMTPFrom, keySMTPHostname, keySMTPPort, keySMTPUsername, keySMTPPassword, keySignupEnabled,
	keyNoNewSigninMail, keyNoPasswordChangedMail, keyNoEmailChangedMail,
	keyOAuthProviders, keyOAuthRedirectURLs, keyOAuthLinkVerifiedEmail}

// patch is the update parameter's built-in part: a field left out is nil.
// Its schema is reflected like a method parameter's; the rules that a
// schema cannot say well are checked by checkField.
type patch struct {
	AppURL        *string `json:"app_url,omitempty" jsonschema_description:"The app's absolute http(s) URL, which links sent by mail start with; empty: not set."`
	SMTPFrom      *string `json:"smtp_from,omitempty" jsonschema_description:"The sender of mail: an email address, optionally with a display name."`
	SMTPHostname  *string `json:"smtp_hostname,omitempty" jsonschema_description:"The SMTP server's host name or IP address; empty: no mail is sent."`
	SMTPPort      *int    `json:"smtp_port,omitempty" jsonschema:"minimum=0,maximum=65535" jsonschema_description:"465: implicit TLS; any other: STARTTLS when offered; 0: 587."`
	SMTPUsername  *string `json:"smtp_username,omitempty" jsonschema_description:"The SMTP account; empty: no AUTH."`
	SMTPPassword  *string `json:"smtp_password,omitempty" jsonschema_description:"Write only: read answers smtp_password_set. Empty clears it; changing smtp_hostname without giving it clears it too."`
	SignupEnabled *bool   `json:"signup_enabled,omitempty" jsonschema_description:"Whether /v1/session/signup is open."`

	NoNewSigninMail       *bool `json:"no_new_signin_mail,omitempty" jsonschema_description:"True: no mail to a user who signs in from a device and network not seen lately."`
	NoPasswordChangedMail *bool `json:"no_password_changed_mail,omitempty" jsonschema_description:"True: no mail to a user whose password changed."`
	NoEmailChangedMail    *bool `json:"no_email_changed_mail,omitempty" jsonschema_description:"True: no mail to the address a user had when it changes."`

	OAuthProviders         *map[string]oauthProviderPatch `json:"oauth_providers,omitempty" jsonschema_description:"The OAuth providers by the name the API uses as oauth_provider (1 to 32 of a-z, 0-9, _ and -); replaces the stored ones."`
	OAuthRedirectURLs      *[]string                      `json:"oauth_redirect_urls,omitempty" jsonschema_description:"The only URLs a provider may send the browser back to, matched exactly."`
	OAuthLinkVerifiedEmail *bool                          `json:"oauth_link_verified_email,omitempty" jsonschema_description:"Whether a first sign-in through a provider links to the existing user of the email the provider says is verified. Default false."`
}

// smtpTest is the test-smtp parameter, as the API v1 reference gives it.
type smtpTest struct {
	SMTPHostname *string `json:"smtp_hostname,omitempty"`
	SMTPPort     *int    `json:"smtp_port,omitempty" jsonschema:"minimum=0,maximum=65535"`
	SMTPUsername *string `json:"smtp_username,omitempty"`
	SMTPPassword *string `json:"smtp_password,omitempty"`
}

// fields knows the keys of the settings object: the built-in ones and the host's.
type fields struct {
	update *jsonschema.Schema // the update parameter: every key optional, no others
	test   *jsonschema.Schema // the test-smtp parameter

	extraType     reflect.Type               // the host's struct; nil without host fields
	hostKeys      map[string]bool            // its JSON keys
	hostSecrets   map[string]bool            // those of fields tagged settings:"secret"
	extraDefaults map[string]json.RawMessage // its default values by key
}

func newReflector() *jsonschema.Reflector {
	// As package rpc reflects parameters: inline, no $id.
	return &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
}

func reflectSchema(r *jsonschema.Reflector, t reflect.Type) *jsonschema.Schema {
	s := r.ReflectFromType(t)
	s.Version, s.ID = "", ""
	return s
}

func newFields(extra any) (*fields, error) {
	r := newReflector()
	f := &fields{
		update:      reflectSchema(r, reflect.TypeFor[patch]()),
		test:        reflectSchema(r, reflect.TypeFor[smtpTest]()),
		hostKeys:    map[string]bool{},
		hostSecrets: map[string]bool{},
	}
	// The API v1 reference lists "required: []": nothing is, stored values
	// fill in.
	f.test.Extras = map[string]any{"required": []string{}}
	if extra == nil {
		return f, nil
	}

	t, ok := typeOf(extra)
	if !ok {
		return nil, fmt.Errorf("settings: Options.Extra is a %T, not a struct or a pointer to one", extra)
	}
	host := reflectSchema(r, t)
	reserved := map[string]bool{keySMTPPasswordSet: true}
	for _, k := range builtinKeys {
		reserved[k] = true
	}
	if host.Properties != nil {
		for p := host.Properties.Oldest(); p != nil; p = p.Next() {
			if reserved[p.Key] {
				return nil, fmt.Errorf("settings: Options.Extra: field %q is a built-in setting", p.Key)
			}
			f.hostKeys[p.Key] = true
			f.update.Properties.Set(p.Key, p.Value)
		}
	}
	for _, k := range secretKeys(t) {
		if !f.hostKeys[k] {
			return nil, fmt.Errorf("settings: Options.Extra: field %q is tagged secret but is not a setting", k)
		}
		f.hostSecrets[k] = true
	}
	raw, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("settings: Options.Extra: %w", err)
	}
	if err := json.Unmarshal(raw, &f.extraDefaults); err != nil {
		return nil, fmt.Errorf("settings: Options.Extra: %w", err)
	}
	f.extraType = t
	return f, nil
}

// secret says whether the setting named key is encrypted at rest (when
// Options.Keys is set): smtp_password, oauth_providers (which holds the
// client secrets) and the host's secret fields.
func (f *fields) secret(key string) bool {
	return key == keySMTPPassword || key == keyOAuthProviders || f.hostSecrets[key]
}

// secretKeys returns the JSON names of the fields of struct type t tagged
// settings:"secret", including those of embedded structs, which encoding/json
// flattens into t's.
func secretKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, secretKeys(et)...)
				continue
			}
		}
		if sf.Tag.Get("settings") != "secret" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, name)
	}
	return out
}

// decodeExtra decodes a JSON object into a new value of the host's type and
// encodes it again: the canonical form, in the struct's field order.
func (f *fields) decodeExtra(values map[string]json.RawMessage) (json.RawMessage, error) {
	raw, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	v := reflect.New(f.extraType)
	if err := json.Unmarshal(raw, v.Interface()); err != nil {
		return nil, err
	}
	return json.Marshal(v.Interface())
}
