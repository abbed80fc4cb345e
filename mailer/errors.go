package mailer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"strings"
	"time"
	"unicode"
)

// ErrNotConfigured is returned when the settings name no SMTP server, or no
// sender for a message.
var ErrNotConfigured = errors.New("mailer: SMTP is not configured")

// The steps of an exchange with an SMTP server, as Error.Op names them.
const (
	OpConnect   = "connect"
	OpTLS       = "TLS handshake" // implicit TLS, before the greeting
	OpGreeting  = "greeting"
	OpHello     = "EHLO"
	OpStartTLS  = "STARTTLS"
	OpAuth      = "AUTH"
	OpMailFrom  = "MAIL FROM"
	OpRcptTo    = "RCPT TO"
	OpData      = "DATA"
	OpQuit      = "QUIT"
	OpTransport = "send" // writing the message after DATA
)

// Error is a failed exchange with an SMTP server. Its message names the
// server and the step, and quotes the server's reply or the network error:
//
//	smtp 127.0.0.1:587: AUTH: 535 5.7.8 Authentication failed
//	smtp 127.0.0.1:1: connect: dial tcp 127.0.0.1:1: connect: connection refused
//	smtp 10.0.0.9:25: greeting: no answer within 10s: read tcp …: i/o timeout
//
// It never contains the password.
type Error struct {
	Addr string // host:port of the server
	Op   string // the step that failed: one of the Op constants
	// Code is the SMTP reply code when the server refused with one (535),
	// else 0.
	Code int
	// Timeout is set when the server did not answer in time.
	Timeout bool
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("smtp %s: %s: %v", e.Addr, e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// failure builds the Error for a step that failed with err, while the
// exchange that began at start runs under ctx.
func failure(ctx context.Context, start time.Time, addr, op string, err error) *Error {
	e := &Error{Addr: addr, Op: op, Err: err}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		e.Code = reply.Code
		e.Err = &replyError{reply}
		return e
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The network error is only the echo of the interruption.
		e.Err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	case ctx.Err() != nil || isTimeout(err):
		e.Timeout = true
		limit := time.Since(start)
		if d, ok := ctx.Deadline(); ok {
			limit = d.Sub(start)
		}
		e.Err = fmt.Errorf("no answer within %s: %w", limit.Round(10*time.Millisecond), err)
	}
	return e
}

// replyError shows an SMTP reply as the server sent it, "535 5.7.8
// Authentication failed", the lines of a multi-line reply joined by spaces
// and control characters dropped.
type replyError struct{ reply *textproto.Error }

func (e *replyError) Error() string {
	msg := strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, e.reply.Msg)
	return fmt.Sprintf("%03d %s", e.reply.Code, msg)
}

func (e *replyError) Unwrap() error { return e.reply }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}
