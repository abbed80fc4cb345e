package oauth

import (
	"errors"
	"fmt"
)

// Reasons of an *Error, for callers to branch on with errors.Is.
var (
	// ErrInvalid: the request cannot be right whatever the provider says:
	// an unknown provider, a redirect URL the host does not allow, an
	// empty code or state. Methods answer 400.
	ErrInvalid = errors.New("oauth: invalid request")
	// ErrRefused: the attempt does not complete: its state is unknown,
	// used or expired, the provider refused the code, or the ID token
	// failed a check (signature, issuer, audience, expiry, nonce). Methods
	// answer 401.
	ErrRefused = errors.New("oauth: refused")
	// ErrUnavailable: the provider could not be reached or answered
	// something that is not OAuth (discovery failed, say). Methods answer
	// it as an opaque 500; the cause is logged.
	ErrUnavailable = errors.New("oauth: provider unavailable")
)

// Error is a refusal of the flow: Reason is one of the errors above;
// Message says what was wrong, for the caller, naming no secret.
type Error struct {
	Reason  error
	Message string
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("oauth: %s: %v", e.Message, e.cause)
	}
	return "oauth: " + e.Message
}

// Is makes errors.Is(err, ErrRefused) true for a refusal of that reason.
func (e *Error) Is(target error) bool { return target == e.Reason }

func (e *Error) Unwrap() error { return e.cause }

func invalid(format string, args ...any) *Error {
	return &Error{Reason: ErrInvalid, Message: fmt.Sprintf(format, args...)}
}

func refused(cause error, format string, args ...any) *Error {
	return &Error{Reason: ErrRefused, Message: fmt.Sprintf(format, args...), cause: cause}
}

func unavailable(cause error, format string, args ...any) *Error {
	return &Error{Reason: ErrUnavailable, Message: fmt.Sprintf(format, args...), cause: cause}
}
