package mailer

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/wneessen/go-mail/smtp"
)

// Mechanisms in the order they are tried. Over TLS, PLAIN and LOGIN work
// with every server that takes passwords; without TLS, mechanisms that do not
// reveal the password come first, and PLAIN and LOGIN are only used towards
// the local machine.
var (
	mechanismsTLS   = []string{"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5"}
	mechanismsClear = []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"}
)

// authenticator chooses a SASL mechanism among those the server offers when
// the exchange reaches AUTH (after STARTTLS, when servers list them), then
// hands over to go-mail's implementation of it.
type authenticator struct {
	user, pass, host string
	chosen           smtp.Auth
}

func (a *authenticator) Start(s *smtp.ServerInfo) (string, []byte, error) {
	order := mechanismsTLS
	if !s.TLS {
		order = mechanismsClear
	}
	offered := make([]string, len(s.Auth))
	for i, m := range s.Auth {
		offered[i] = strings.ToUpper(m)
	}
	for _, mech := range order {
		if !slices.Contains(offered, mech) {
			continue
		}
		clearOK := s.TLS || isLoopback(a.host)
		switch mech {
		case "PLAIN", "LOGIN":
			if !clearOK {
				return "", nil, errors.New("the server offers no TLS (no STARTTLS; port 465 means implicit TLS): " +
					"the password is not sent over an unencrypted connection")
			}
			if mech == "PLAIN" {
				a.chosen = smtp.PlainAuth("", a.user, a.pass, s.Name, true)
			} else {
				a.chosen = smtp.LoginAuth(a.user, a.pass, s.Name, true)
			}
		case "SCRAM-SHA-256":
			a.chosen = smtp.ScramSHA256Auth(a.user, a.pass)
		case "SCRAM-SHA-1":
			a.chosen = smtp.ScramSHA1Auth(a.user, a.pass)
		case "CRAM-MD5":
			a.chosen = smtp.CRAMMD5Auth(a.user, a.pass)
		}
		return a.chosen.Start(s)
	}
	if len(offered) == 0 {
		return "", nil, errors.New("the server offers no AUTH: leave the username empty to send without authenticating")
	}
	return "", nil, fmt.Errorf("the server offers AUTH %s; this client speaks %s",
		strings.Join(offered, " "), strings.Join(mechanismsTLS, " "))
}

func (a *authenticator) Next(fromServer []byte, more bool) ([]byte, error) {
	if a.chosen == nil {
		return nil, errors.New("mailer: AUTH continued before it started")
	}
	return a.chosen.Next(fromServer, more)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
