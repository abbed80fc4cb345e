package mailer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Message is a mail to one recipient.
type Message struct {
	To      string // "ann@example.com" or "Ann <ann@example.com>"
	Subject string
	Text    string // the plain text body
	HTML    string // the HTML body, sent as an alternative to Text; may be empty
}

// Send delivers msg through the server that the source names now, from its
// From address. It returns ErrNotConfigured (wrapped) when there is no
// server or sender, an *Error when the server refuses or does not answer,
// or another error when msg itself is wrong. A message the server has
// accepted counts as sent even if the QUIT after it fails.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	cfg, err := m.source(ctx)
	if err != nil {
		return fmt.Errorf("mailer: read the SMTP settings: %w", err)
	}
	if cfg.Host == "" {
		return fmt.Errorf("%w: no SMTP host", ErrNotConfigured)
	}
	if cfg.From == "" {
		return fmt.Errorf("%w: no sender address", ErrNotConfigured)
	}
	raw, from, to, err := compose(cfg.From, msg)
	if err != nil {
		return err
	}
	err = exchange(ctx, cfg, m.opts, func(c *smtp.Client, fail failFunc) error {
		if err := c.Mail(from); err != nil {
			return fail(OpMailFrom, err)
		}
		if err := c.Rcpt(to); err != nil {
			return fail(OpRcptTo, err)
		}
		w, err := c.Data()
		if err != nil {
			return fail(OpData, err)
		}
		if _, err := w.Write(raw); err != nil {
			return fail(OpTransport, err)
		}
		// Close waits for the server's verdict on the message.
		if err := w.Close(); err != nil {
			return fail(OpData, err)
		}
		return nil
	})
	var e *Error
	if errors.As(err, &e) && e.Op == OpQuit {
		m.opts.Logger.WarnContext(ctx, "mailer: message sent, but QUIT failed", "err", err)
		err = nil
	}
	if err != nil {
		return err
	}
	m.opts.Logger.DebugContext(ctx, "mailer: message sent", "subject", msg.Subject)
	return nil
}

// compose renders msg as a MIME message from sender, with the envelope
// addresses for MAIL FROM and RCPT TO.
func compose(sender string, msg Message) (raw []byte, from, to string, err error) {
	if msg.Text == "" && msg.HTML == "" {
		return nil, "", "", errors.New("mailer: the message has no body")
	}
	fromAddr, err := mail.ParseAddress(sender)
	if err != nil {
		return nil, "", "", fmt.Errorf("mailer: sender %q: %w", sender, err)
	}
	if _, err := mail.ParseAddress(msg.To); err != nil {
		return nil, "", "", fmt.Errorf("mailer: recipient %q: %w", msg.To, err)
	}
	gm := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := gm.From(sender); err != nil {
		return nil, "", "", fmt.Errorf("mailer: sender %q: %w", sender, err)
	}
	if err := gm.To(msg.To); err != nil {
		return nil, "", "", fmt.Errorf("mailer: recipient %q: %w", msg.To, err)
	}
	gm.Subject(oneLine(msg.Subject))
	gm.SetDate()
	gm.SetMessageIDWithValue(messageID(fromAddr.Address))
	// Automatic mail: auto-responders stay quiet (RFC 3834).
	gm.SetGenHeader("Auto-Submitted", "auto-generated")
	switch {
	case msg.Text != "" && msg.HTML != "":
		gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	case msg.Text != "":
		gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	default:
		gm.SetBodyString(gomail.TypeTextHTML, msg.HTML)
	}
	var buf bytes.Buffer
	if _, err := gm.WriteTo(&buf); err != nil {
		return nil, "", "", fmt.Errorf("mailer: compose: %w", err)
	}
	if from, err = gm.GetSender(false); err != nil {
		return nil, "", "", fmt.Errorf("mailer: compose: %w", err)
	}
	rcpts, err := gm.GetRecipients()
	if err != nil {
		return nil, "", "", fmt.Errorf("mailer: compose: %w", err)
	}
	return buf.Bytes(), from, rcpts[0], nil
}

// oneLine folds line breaks (from template data, say) into spaces: a
// header is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// messageID returns a Message-ID in the sender's domain, which spam filters
// expect, rather than in the machine's host name.
func messageID(sender string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(sender, '@'); i >= 0 && i+1 < len(sender) {
		domain = sender[i+1:]
	}
	return rand.Text() + "@" + domain
}
