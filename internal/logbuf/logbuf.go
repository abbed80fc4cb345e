package logbuf

import (
	"bytes"
	"sync"
)

// Buffer collects log output written from any goroutine, such as a
// registry's slog handler, so a test can assert what was logged:
//
//	logs := new(logbuf.Buffer)
//	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it is safe to call from several goroutines at once.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
