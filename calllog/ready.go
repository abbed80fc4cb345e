package calllog

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrClosed is Ready's answer once Close has begun.
var ErrClosed = errors.New("calllog: closed")

// StalledError is Ready's answer while the writer is stalled.
type StalledError struct {
	// Queued is the number of rows waiting to be written.
	Queued int
	// Since is how long rows have waited with none written: since the
	// writer last wrote, or since the queue was last empty, whichever is
	// later. It exceeds Options.StallAfter.
	Since time.Duration
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("calllog: writer stalled: %d rows queued, none written for %s", e.Queued, e.Since.Round(time.Second))
}

// Ready reports whether the writer keeps up: nil while no row waits, or
// rows have waited, with none written, for at most Options.StallAfter; a
// *StalledError when they have waited longer; ErrClosed after Close. It
// reads no database, so it answers at once: a health check's "call log
// not stalled" (package health).
func (m *Module) Ready(context.Context) error {
	select {
	case <-m.stop:
		return ErrClosed
	default:
	}
	queued, waiting := m.q.waitingSince()
	if queued == 0 {
		return nil
	}
	// Rows have waited since the later of the last write and the moment
	// the queue stopped being empty.
	since := m.opts.Now().Sub(time.Unix(0, max(m.progress.Load(), waiting)))
	if since <= m.opts.StallAfter {
		return nil
	}
	return &StalledError{Queued: queued, Since: since}
}

// progressed records that the writer wrote a group, or had nothing to write, now.
func (m *Module) progressed() { m.progress.Store(m.opts.Now().UnixNano()) }
