package users

import (
	"errors"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// hashBusyRetry is the Retry-After of a call refused because the hasher's
// queue is full: a few hashes' time.
const hashBusyRetry = time.Second

// rpcError answers an operation's error as the methods do: a refusal with
// the status of its reason and its message as it is, a full hashing queue
// with 429 at once (the flood that filled it gets refusals rather than
// everyone a long wait), anything else as it came (an opaque 500).
func rpcError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		switch e.Reason {
		case ErrInvalid, ErrInvalidToken, ErrMailNotConfigured:
			return rpc.BadRequest("%s", e.Message)
		case ErrNotFound:
			return rpc.NotFound("%s", e.Message)
		case ErrConflict:
			return rpc.Conflict("%s", e.Message)
		case ErrForbidden:
			return rpc.Forbidden("%s", e.Message)
		case ErrUnauthenticated:
			if e.SecondFactor != nil {
				return rpc.Unauthorized("%s", e.Message).WithMeta(map[string]any{"second_factor": e.SecondFactor})
			}
			return rpc.Unauthorized("%s", e.Message)
		case ErrLimited:
			return rpc.TooManyRequests("%s", e.Message).WithRetryAfter(e.RetryAfter)
		}
	}
	if errors.Is(err, auth.ErrBusy) {
		return rpc.TooManyRequests("too many sign-ins at once: try again in a moment").WithRetryAfter(hashBusyRetry)
	}
	return err
}

// changedResult answers a change: 200, or 204 when nothing changed.
func changedResult(changed bool, err error) (rpc.Result, error) {
	switch {
	case err != nil:
		return rpc.Result{}, rpcError(err)
	case !changed:
		return rpc.NoContent(), nil
	}
	return rpc.Result{}, nil
}
