package health

import (
	"context"
	"errors"
)

// Pinger is a database handle: *bun.DB and *sql.DB fit.
type Pinger interface {
	PingContext(ctx context.Context) error
}

// Ping is the check "the database answers": a ping within the run's
// deadline.
func Ping(db Pinger) func(ctx context.Context) error {
	return func(ctx context.Context) error { return db.PingContext(ctx) }
}

// Sync is a channel between instances that reports whether it hears the
// others: *storage.Sync and *natspubsub.Sync fit.
type Sync interface {
	Listening() bool
}

// ErrNotListening is the error of Listening's check.
var ErrNotListening = errors.New("health: the channel between instances is not listening")

// Listening is the check "messages from the other instances reach this
// one": while it fails, this instance's caches are read through and
// events from the others do not reach its sockets.
func Listening(s Sync) func(ctx context.Context) error {
	return func(context.Context) error {
		if !s.Listening() {
			return ErrNotListening
		}
		return nil
	}
}
