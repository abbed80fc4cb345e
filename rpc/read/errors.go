package read

import "fmt"

// Error is a refusal of a request's options. Message says what was wrong
// with which key ("options.where.id: expected an id (a string of digits),
// got true"); it is written for the client and quotes at most 40 bytes of
// any text the request sent.
type Error struct {
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

func errorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}
