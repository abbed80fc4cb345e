package mailer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wneessen/go-mail/smtp"
)

func TestAuthenticatorChoosesAMechanism(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		host   string
		server smtp.ServerInfo
		mech   string
		err    string
	}{
		{"PLAIN over TLS", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"LOGIN", "PLAIN", "CRAM-MD5"}}, "PLAIN", ""},
		{"LOGIN over TLS", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"login"}}, "LOGIN", ""},
		{"CRAM-MD5 in clear", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", Auth: []string{"PLAIN", "CRAM-MD5"}}, "CRAM-MD5", ""},
		{"SCRAM in clear", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", Auth: []string{"PLAIN", "SCRAM-SHA-256", "CRAM-MD5"}}, "SCRAM-SHA-256", ""},
		{"no password in clear", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", Auth: []string{"PLAIN", "LOGIN"}}, "", "not sent over an unencrypted connection"},
		{"PLAIN in clear to the local machine", "127.0.0.1", smtp.ServerInfo{Name: "127.0.0.1", Auth: []string{"PLAIN"}}, "PLAIN", ""},
		{"PLAIN in clear to localhost", "localhost", smtp.ServerInfo{Name: "localhost", Auth: []string{"PLAIN"}}, "PLAIN", ""},
		{"no AUTH", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", TLS: true}, "", "offers no AUTH"},
		{"unknown mechanisms", "smtp.example.com", smtp.ServerInfo{Name: "smtp.example.com", TLS: true, Auth: []string{"GSSAPI", "XOAUTH2"}}, "", "offers AUTH GSSAPI XOAUTH2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &authenticator{user: "u", pass: "p4ss", host: tc.host}
			mech, resp, err := a.Start(&tc.server)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.NotContains(t, err.Error(), "p4ss")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.mech, mech)
			if mech == "PLAIN" {
				assert.Equal(t, "\x00u\x00p4ss", string(resp))
			}
		})
	}
}

func TestUntil(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour:          "30 days",
		48 * time.Hour:               "2 days",
		24*time.Hour - time.Second:   "24 hours",
		time.Hour - time.Second:      "1 hour",
		100 * time.Minute:            "2 hours",
		15*time.Minute - time.Second: "15 minutes",
		time.Minute:                  "1 minute",
		10 * time.Second:             "less than a minute",
		-time.Hour:                   "less than a minute",
	} {
		assert.Equal(t, want, until(now.Add(d)), "%s", d)
	}
}
