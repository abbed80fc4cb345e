package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authrpc/authrpc/internal/quote"
)

// Status codes of the wire format. Positive codes are HTTP statuses; negative
// ones are JSON-RPC codes, each sent with the HTTP status HTTPStatus gives.
const (
	CodeOK                      = 200
	CodeNoContent               = 204 // OK, nothing changed; sent as HTTP 200
	CodeBadRequest              = 400
	CodeUnauthorized            = 401 // bad credentials
	CodeForbidden               = 403
	CodeNotFound                = 404
	CodeMethodNotAllowed        = 405
	CodeRequestTimeout          = 408 // the request body did not arrive in time
	CodeConflict                = 409
	CodeTooManyRequests         = 429
	CodeInternal                = 500
	CodeServiceUnavailable      = 503 // out of capacity for now, or a dependency did not answer: try again
	CodeInsufficientPermissions = -32801
	CodeTooManyActive           = -32802 // past a method's bound on calls in flight; sent as HTTP 429
	CodeUnsupportedMediaType    = -32803
	CodeParseError              = -32807
	CodeInvalidParams           = -32808
	CodeMethodNotFound          = -32809
	CodeTooLarge                = -32902
	CodeUploadOverWebSocket     = -32900 // an upload method called over WebSocket: uploads go over HTTP
)

// HTTPStatus returns the HTTP status a result with the given code is sent with.
func HTTPStatus(code int) int {
	switch code {
	case CodeNoContent:
		return http.StatusOK
	case CodeInsufficientPermissions:
		return http.StatusUnauthorized
	case CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case CodeTooManyActive:
		return http.StatusTooManyRequests
	case CodeParseError, CodeInvalidParams, CodeUploadOverWebSocket:
		return http.StatusBadRequest
	case CodeMethodNotFound:
		return http.StatusNotFound
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	if code >= 100 && code <= 599 {
		return code
	}
	return http.StatusInternalServerError
}

// StatusText returns the default message for a code.
func StatusText(code int) string {
	switch code {
	case CodeNoContent:
		return "No Content"
	case CodeUnauthorized:
		return "Not authenticated"
	case CodeInsufficientPermissions:
		return "Insufficient permissions"
	case CodeUnsupportedMediaType:
		return "Unsupported content type"
	case CodeTooManyActive:
		return "Too many active requests"
	case CodeParseError:
		return "Request body is not valid JSON"
	case CodeInvalidParams:
		return "Parameters do not match the method's schema"
	case CodeMethodNotFound:
		return "Method not found"
	case CodeTooLarge:
		return "Request body is too large"
	case CodeUploadOverWebSocket:
		return "Uploads are not supported over WebSocket"
	case CodeInternal:
		return "Internal Server Error"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Internal Server Error"
}

// Error is an error a handler returns to answer with a given code and message.
// Any other error a handler returns becomes an opaque internal error.
type Error struct {
	Code    int
	Message string
	// Meta is sent as error.data.meta; nil sends an empty object.
	Meta map[string]any
	// RetryAfter, when positive, is sent as the Retry-After header, in
	// whole seconds rounded up: when a refused call may be tried again.
	RetryAfter time.Duration

	cause error // kept for logs, never sent
}

// NewError returns an error with the given code; an empty message takes the
// code's default text.
func NewError(code int, message string) *Error {
	if message == "" {
		message = StatusText(code)
	}
	return &Error{Code: code, Message: message}
}

// Errorf returns an error with the given code and a formatted message.
// A %w verb keeps its operand as the cause (for errors.Is and logs), but only
// the formatted text is sent.
func Errorf(code int, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), cause: unwrapOne(err)}
}

func unwrapOne(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok {
		return u.Unwrap()
	}
	return nil
}

func (e *Error) Error() string { return fmt.Sprintf("rpc: %d: %s", e.Code, e.Message) }

// Unwrap returns the cause given with %w to Errorf, if any.
func (e *Error) Unwrap() error { return e.cause }

// WithMeta returns a copy of e that sends meta as error.data.meta.
func (e *Error) WithMeta(meta map[string]any) *Error {
	c := *e
	c.Meta = meta
	return &c
}

// WithRetryAfter returns a copy of e that tells the client, in the
// Retry-After header, to try again after d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// Shorthands for the codes handlers use most.

// BadRequest answers 400: a rule of the method was broken; the message says which.
func BadRequest(format string, args ...any) *Error { return Errorf(CodeBadRequest, format, args...) }

// NotFound answers 404: the object named does not exist.
func NotFound(format string, args ...any) *Error { return Errorf(CodeNotFound, format, args...) }

// Conflict answers 409: the object already exists.
func Conflict(format string, args ...any) *Error { return Errorf(CodeConflict, format, args...) }

// Forbidden answers 403: authenticated, but not allowed here.
func Forbidden(format string, args ...any) *Error { return Errorf(CodeForbidden, format, args...) }

// Unauthorized answers 401: bad credentials.
func Unauthorized(format string, args ...any) *Error {
	return Errorf(CodeUnauthorized, format, args...)
}

// TooManyRequests answers 429: a rate limit was hit.
func TooManyRequests(format string, args ...any) *Error {
	return Errorf(CodeTooManyRequests, format, args...)
}

// InvalidParams answers -32808: the parameters do not match the method's schema.
func InvalidParams(format string, args ...any) *Error {
	return Errorf(CodeInvalidParams, format, args...)
}

// Quote quotes a string taken from a request for an error message, cut short
// (with an ellipsis) so that a hostile request cannot make the answer large.
func Quote(s string) string { return quote.Short(s) }

type panicError struct {
	value any
	stack []byte
}

var (
	errInternal = NewError(CodeInternal, "")
	// errDeadline answers a call that did not finish within its deadline:
	// generic, as the cause (a silent database, a slow dependency) is the
	// server's to log, not the caller's to read.
	errDeadline = NewError(CodeServiceUnavailable, "the call did not finish in time: try again later")
)

// errorFor returns what the caller is told of err: a handler's *Error as it
// is, anything else as an opaque internal error, logged with the method id.
func (r *Registry) errorFor(ctx context.Context, m *method, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *panicError
	if errors.As(err, &pe) {
		r.log.ErrorContext(ctx, "rpc: handler panicked", "method", m.ID, "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
	} else {
		r.log.ErrorContext(ctx, "rpc: handler failed", "method", m.ID, "err", err)
	}
	return errInternal
}
