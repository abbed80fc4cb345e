package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math"
	"strings"
	texttemplate "text/template"
	"time"
)

// Names of the built-in templates. The data of the first two is a
// LinkData, of the others a NoticeData.
const (
	TemplateConfirmEmail  = "confirm-email"
	TemplateResetPassword = "reset-password"
	// TemplateNewSignin tells a user of a sign-in from a device and network
	// not seen before.
	TemplateNewSignin = "new-signin"
	// TemplatePasswordChanged tells a user that their password changed.
	TemplatePasswordChanged = "password-changed"
	// TemplateEmailChanged tells a user, at the address they had, that
	// their email address changed.
	TemplateEmailChanged = "email-changed"
	// TemplateFactorsRemoved tells a user that an administrator removed
	// their second factors (TOTP, recovery codes, passkeys) and ended
	// their sessions.
	TemplateFactorsRemoved = "factors-removed"
)

// NoticeData is the data of the security notices: something happened to
// a user's account, and here is where to look if it was not them.
type NoticeData struct {
	Username string    // the user's name, to greet them
	Time     time.Time // when it happened
	// Of a sign-in: where from, as the session list shows it; "" for
	// what the user agent did not say.
	Device  string
	Browser string
	OS      string
	Address string
	// NewEmail is the address an email change set ("" when it was cleared).
	NewEmail string
	// Link is where the user sees and ends their sessions; "" when the app
	// has no URL.
	Link string
}

// LinkData is the data of the built-in templates: a link that does
// something for a user, once, until it expires.
type LinkData struct {
	Username  string    // the user's name, to greet them
	Link      string    // the URL with the token
	ExpiresAt time.Time // when the link stops working; zero: not said
}

// Template is a message that a Mailer renders with data. Subject and Text
// are text/template texts, HTML an html/template text (which escapes the
// data); each sees the data as dot and may call the function until, which
// turns a time.Time into how long until then ("24 hours"). A template that
// refers to a field the data lacks fails when rendered.
type Template struct {
	Subject string
	Text    string // the plain text body
	HTML    string // the HTML body; empty sends plain text only
}

type compiled struct {
	subject *texttemplate.Template
	text    *texttemplate.Template // nil when Template.Text is empty
	html    *htmltemplate.Template // nil when Template.HTML is empty
}

var funcs = map[string]any{"until": until}

func compile(name string, t Template) (*compiled, error) {
	if strings.TrimSpace(t.Subject) == "" {
		return nil, fmt.Errorf("mailer: template %q: no subject", name)
	}
	if strings.TrimSpace(t.Text) == "" && strings.TrimSpace(t.HTML) == "" {
		return nil, fmt.Errorf("mailer: template %q: no body: give Text, HTML or both", name)
	}
	var c compiled
	var err error
	if c.subject, err = texttemplate.New(name + ".subject").Option("missingkey=error").Funcs(funcs).Parse(t.Subject); err != nil {
		return nil, fmt.Errorf("mailer: template %q: subject: %w", name, err)
	}
	if t.Text != "" {
		if c.text, err = texttemplate.New(name + ".text").Option("missingkey=error").Funcs(funcs).Parse(t.Text); err != nil {
			return nil, fmt.Errorf("mailer: template %q: text: %w", name, err)
		}
	}
	if t.HTML != "" {
		if c.html, err = htmltemplate.New(name + ".html").Option("missingkey=error").Funcs(funcs).Parse(t.HTML); err != nil {
			return nil, fmt.Errorf("mailer: template %q: html: %w", name, err)
		}
	}
	return &c, nil
}

// SetTemplate adds a template, or replaces one (a built-in one too), under
// name. It fails when a text does not parse.
func (m *Mailer) SetTemplate(name string, t Template) error {
	if name == "" {
		return errors.New("mailer: a template needs a name")
	}
	c, err := compile(name, t)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.templates[name] = c
	m.mu.Unlock()
	return nil
}

// Render renders the template name with data into a Message without a recipient.
func (m *Mailer) Render(name string, data any) (Message, error) {
	m.mu.RLock()
	c := m.templates[name]
	m.mu.RUnlock()
	if c == nil {
		return Message{}, fmt.Errorf("mailer: no template %q", name)
	}
	var msg Message
	var b bytes.Buffer
	if err := c.subject.Execute(&b, data); err != nil {
		return Message{}, fmt.Errorf("mailer: render %q: %w", name, err)
	}
	msg.Subject = oneLine(b.String())
	if c.text != nil {
		b.Reset()
		if err := c.text.Execute(&b, data); err != nil {
			return Message{}, fmt.Errorf("mailer: render %q: %w", name, err)
		}
		msg.Text = b.String()
	}
	if c.html != nil {
		b.Reset()
		if err := c.html.Execute(&b, data); err != nil {
			return Message{}, fmt.Errorf("mailer: render %q: %w", name, err)
		}
		msg.HTML = b.String()
	}
	return msg, nil
}

// SendTemplate renders the template name with data and sends it to to.
func (m *Mailer) SendTemplate(ctx context.Context, to, name string, data any) error {
	msg, err := m.Render(name, data)
	if err != nil {
		return err
	}
	msg.To = to
	return m.Send(ctx, msg)
}

// until says how long it is until t, rounded to a unit a reader expects:
// "30 days", "24 hours", "1 hour", "15 minutes".
func until(t time.Time) string {
	d := time.Until(t)
	plural := func(n float64, unit string) string {
		k := int(math.Round(n))
		if k == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", k, unit)
	}
	switch {
	case d >= 47*time.Hour+30*time.Minute:
		return plural(d.Hours()/24, "day")
	case d >= 59*time.Minute+30*time.Second:
		return plural(d.Hours(), "hour")
	case d >= 30*time.Second:
		return plural(d.Minutes(), "minute")
	}
	return "less than a minute"
}

func builtinTemplates() map[string]*compiled {
	out := make(map[string]*compiled, len(builtins))
	for name, t := range builtins {
		c, err := compile(name, t)
		if err != nil {
			panic(err) // the built-ins are constants, parsed in the package's tests
		}
		out[name] = c
	}
	return out
}

const expiryText = `{{if not .ExpiresAt.IsZero}} It works once, for {{until .ExpiresAt}} (until {{.ExpiresAt.UTC.Format "2006-01-02 15:04 MST"}}).{{else}} It works once.{{end}}`

const noticeLink = `{{if .Link}}

See your sessions and sign out the ones you do not know: {{.Link}}{{end}}`

const noticeLinkHTML = `{{if .Link}}<p><a href="{{.Link}}">See your sessions</a> and sign out the ones you do not know.</p>{{end}}`

const noticeTime = `{{.Time.UTC.Format "2006-01-02 15:04 MST"}}`

var builtins = map[string]Template{
	TemplateNewSignin: {
		Subject: `New sign-in to your account`,
		Text: `Hello {{.Username}},

your account was signed in to from a device we have not seen before:

Time:    ` + noticeTime + `
Device:  {{or .Device "unknown"}}
Browser: {{or .Browser "unknown"}}
System:  {{or .OS "unknown"}}
Address: {{or .Address "unknown"}}

If this was you, there is nothing to do. If not, change your password now.` + noticeLink + `
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>your account was signed in to from a device we have not seen before:</p>
<table>
<tr><td>Time</td><td>` + noticeTime + `</td></tr>
<tr><td>Device</td><td>{{or .Device "unknown"}}</td></tr>
<tr><td>Browser</td><td>{{or .Browser "unknown"}}</td></tr>
<tr><td>System</td><td>{{or .OS "unknown"}}</td></tr>
<tr><td>Address</td><td>{{or .Address "unknown"}}</td></tr>
</table>
<p>If this was you, there is nothing to do. If not, change your password now.</p>
` + noticeLinkHTML + `
</body></html>
`,
	},
	TemplatePasswordChanged: {
		Subject: `Your password was changed`,
		Text: `Hello {{.Username}},

the password of your account was changed at ` + noticeTime + `.

If this was you, there is nothing to do. If not, reset your password now and check your sessions.` + noticeLink + `
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>the password of your account was changed at ` + noticeTime + `.</p>
<p>If this was you, there is nothing to do. If not, reset your password now and check your sessions.</p>
` + noticeLinkHTML + `
</body></html>
`,
	},
	TemplateEmailChanged: {
		Subject: `Your email address was changed`,
		Text: `Hello {{.Username}},

the email address of your account was {{if .NewEmail}}changed to {{.NewEmail}}{{else}}removed{{end}} at ` + noticeTime + `. This address will get no more mail about the account.

If this was not you, sign in, set your address again and change your password.` + noticeLink + `
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>the email address of your account was {{if .NewEmail}}changed to {{.NewEmail}}{{else}}removed{{end}} at ` + noticeTime + `. This address will get no more mail about the account.</p>
<p>If this was not you, sign in, set your address again and change your password.</p>
` + noticeLinkHTML + `
</body></html>
`,
	},
	TemplateFactorsRemoved: {
		Subject: `Your second factors were removed`,
		Text: `Hello {{.Username}},

an administrator removed the second factors of your account (authenticator app, recovery codes and passkeys) at ` + noticeTime + `, and ended your sessions. You now sign in with your password alone.

If you did not ask for this, change your password and set up a second factor again.` + noticeLink + `
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>an administrator removed the second factors of your account (authenticator app, recovery codes and passkeys) at ` + noticeTime + `, and ended your sessions. You now sign in with your password alone.</p>
<p>If you did not ask for this, change your password and set up a second factor again.</p>
` + noticeLinkHTML + `
</body></html>
`,
	},
	TemplateConfirmEmail: {
		Subject: `Confirm your email address`,
		Text: `Hello {{.Username}},

please confirm your email address by opening this link:

{{.Link}}
` + "\n" + `The link is for you alone.` + expiryText + `

If you did not ask for this, ignore this message.
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>please confirm your email address by opening this link:</p>
<p><a href="{{.Link}}">Confirm my email address</a></p>
<p>The link is for you alone.` + expiryText + `</p>
<p>If you did not ask for this, ignore this message.</p>
</body></html>
`,
	},
	TemplateResetPassword: {
		Subject: `Reset your password`,
		Text: `Hello {{.Username}},

someone, hopefully you, asked to reset the password of your account. To choose a new password, open this link:

{{.Link}}
` + "\n" + `The link is for you alone.` + expiryText + `

If you did not ask for this, ignore this message: your password stays as it is.
`,
		HTML: `<!DOCTYPE html>
<html><body>
<p>Hello {{.Username}},</p>
<p>someone, hopefully you, asked to reset the password of your account. To choose a new password, open this link:</p>
<p><a href="{{.Link}}">Choose a new password</a></p>
<p>The link is for you alone.` + expiryText + `</p>
<p>If you did not ask for this, ignore this message: your password stays as it is.</p>
</body></html>
`,
	},
}
