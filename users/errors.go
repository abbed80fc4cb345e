package users

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The reasons an operation is refused. Every refusal is an *Error whose
// Reason is one of these, so callers branch with errors.Is (or errors.As
// for the message and RetryAfter). A failure of the database or of another
// dependency is none of them: it comes wrapped with context, as it was. A
// full hashing queue is auth.ErrBusy.
var (
	// ErrNotFound: the user named does not exist (or no session to end).
	ErrNotFound = errors.New("users: user not found")
	// ErrInvalid: a value breaks the rules: a user name, email, telegram
	// name or password, or a permission name that is not declared.
	ErrInvalid = errors.New("users: invalid value")
	// ErrConflict: a user name, email or telegram name is another user's.
	ErrConflict = errors.New("users: already taken")
	// ErrForbidden: the actor may not do this: root's protections, a
	// permission it does not hold, what an API token may not do, signup
	// while it is closed.
	ErrForbidden = errors.New("users: not allowed")
	// ErrUnauthenticated: the user name and password sign nobody in, or the
	// caller is not signed in.
	ErrUnauthenticated = errors.New("users: not authenticated")
	// ErrLimited: a rate limit refused the attempt; Error.RetryAfter says
	// when the next one is allowed.
	ErrLimited = errors.New("users: too many attempts")
	// ErrInvalidToken: a mailed token that is unknown, used, expired, of
	// the other kind, or that its user cannot use now.
	ErrInvalidToken = errors.New("users: invalid or expired token")
	// ErrMailNotConfigured: the module cannot send mail (Options.Mailer or
	// Options.AppURL), whoever asks.
	ErrMailNotConfigured = errors.New("users: mail is not configured")
)

// Error is an operation refused for Reason, one of the Err values above.
// Message says what, for people; the API answers it as it is.
type Error struct {
	Reason     error
	Message    string
	RetryAfter time.Duration // with ErrLimited: when to try again
	// SecondFactor, with ErrUnauthenticated from a sign-in, says the
	// password was right and the sign-in waits for a second factor:
	// complete it with Module.CompleteSignIn.
	SecondFactor *SecondFactor
}

func (e *Error) Error() string { return "users: " + e.Message }

// Unwrap returns Reason, for errors.Is.
func (e *Error) Unwrap() error { return e.Reason }

// refuse returns an *Error for reason with a formatted message.
func refuse(reason error, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// notFound refuses an operation on a user id that names nobody.
func notFound(id int64) *Error {
	return refuse(ErrNotFound, "user %q not found", strconv.FormatInt(id, 10))
}

// badToken refuses every mailed token that cannot be used alike: the
// answer must not tell why.
func badToken() *Error { return refuse(ErrInvalidToken, "invalid or expired token") }
