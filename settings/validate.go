package settings

import (
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authrpc/authrpc/oauth"
)

// Limits of the built-in text settings, in bytes.
const (
	maxURL      = 2048
	maxFrom     = 512
	maxHostname = 253
	maxUsername = 512
	maxPassword = 1024
)

// The checks below answer "" for a good value, else the rule it breaks,
// worded to follow the key ("smtp_port must …"). They never quote the value.

func checkAppURL(s string) string {
	const rule = "must be an absolute http or https URL without credentials, query or fragment, such as https://app.example.com"
	if s == "" {
		return ""
	}
	if len(s) > maxURL || hasSpaceOrControl(s) || strings.ContainsAny(s, "?#\\") {
		return rule
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Hostname() == "" {
		return rule
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return rule
	}
	return ""
}

func checkFrom(s string) string {
	const rule = `must be an email address, optionally with a name, such as "Example <noreply@example.com>"`
	if s == "" {
		return ""
	}
	if len(s) > maxFrom || hasControl(s) {
		return rule
	}
	a, err := mail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") {
		return rule
	}
	return ""
}

func checkHostname(s string) string {
	const rule = "must be a host name or an IP address, such as smtp.example.com"
	if s == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return rule
		}
		return ""
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) == 0 || len(name) > maxHostname {
		return rule
	}
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return rule
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return rule
			}
		}
	}
	return ""
}

func checkUsername(s string) string {
	if len(s) > maxUsername || hasControl(s) {
		return "must be at most 512 bytes without control characters"
	}
	return ""
}

func checkPassword(s string) string {
	if len(s) > maxPassword || hasControl(s) {
		return "must be at most 1024 bytes without control characters"
	}
	return ""
}

func checkPort(n int) string {
	if n < 0 || n > 65535 {
		return "must be from 0 to 65535"
	}
	return ""
}

// checkSettings checks every built-in field, as for Options.Defaults.
func checkSettings(s Settings) string {
	for _, c := range []struct{ key, msg string }{
		{keyAppURL, checkAppURL(s.AppURL)},
		{keySMTPFrom, checkFrom(s.SMTPFrom)},
		{keySMTPHostname, checkHostname(s.SMTPHostname)},
		{keySMTPPort, checkPort(s.SMTPPort)},
		{keySMTPUsername, checkUsername(s.SMTPUsername)},
		{keySMTPPassword, checkPassword(s.SMTPPassword)},
	} {
		if c.msg != "" {
			return c.key + " " + c.msg
		}
	}
	if msg := (oauth.Config{Providers: s.OAuthProviders, RedirectURLs: s.OAuthRedirectURLs}).Check(); msg != "" {
		return "oauth: " + msg
	}
	return ""
}

func hasControl(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl)
}

func hasSpaceOrControl(s string) bool {
	return hasControl(s) || strings.ContainsFunc(s, unicode.IsSpace)
}
