package rpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"sync"
	"time"
)

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		b.Reset()
		bufferPool.Put(b)
	}
}

// readBody reads a JSON body of at most limit bytes within timeout. A
// declared Content-Length is only checked: the buffer grows with the bytes
// that arrive, so a client cannot make the server reserve memory by
// promising a large body and sending none of it.
func (r *Registry) readBody(w http.ResponseWriter, req *http.Request, limit int64, timeout time.Duration) (*bytes.Buffer, *Error) {
	buf := bufferPool.Get().(*bytes.Buffer)
	if req.ContentLength > limit {
		putBuffer(buf)
		w.Header().Set("Connection", "close")
		return nil, Errorf(CodeTooLarge, "request body is larger than %d bytes", limit)
	}
	if req.Body == nil || req.Body == http.NoBody {
		return buf, nil
	}
	deadline := r.limitBodyTime(w, req, timeout)
	if err := readLimited(buf, req.Body, limit); err != nil {
		putBuffer(buf)
		if isBodyTimeout(err) {
			return nil, bodyTimedOut(w, timeout)
		}
		if errors.Is(err, errTooLarge) {
			// Like http.MaxBytesReader: the rest of the body is not read, so
			// the connection cannot be reused.
			w.Header().Set("Connection", "close")
			return nil, Errorf(CodeTooLarge, "request body is larger than %d bytes", limit)
		}
		return nil, BadRequest("could not read the request body")
	}
	deadline.lift()
	return buf, nil
}

var errTooLarge = errors.New("rpc: body too large")

// readLimited reads r to its end into buf, failing with errTooLarge past
// limit bytes. It is http.MaxBytesReader without the allocation.
func readLimited(buf *bytes.Buffer, r io.Reader, limit int64) error {
	for {
		if int64(buf.Len()) > limit {
			return errTooLarge
		}
		if buf.Available() == 0 && int64(buf.Cap()) <= limit {
			growWithin(buf, limit+1)
		}
		free := buf.AvailableBuffer()[:buf.Available()]
		if room := limit + 1 - int64(buf.Len()); int64(len(free)) > room {
			free = free[:room]
		}
		n, err := r.Read(free)
		buf.Write(free[:n])
		if err == io.EOF {
			if int64(buf.Len()) > limit {
				return errTooLarge
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// growWithin makes room in buf for more bytes: it doubles it, as Grow
// would, but never past max bytes, and goes to max at once from past half
// of it: a body of the limit costs about twice its bytes to read, not
// three times, and is held in the limit, not in twice it.
func growWithin(buf *bytes.Buffer, max int64) {
	n := 2*int64(buf.Cap()) + 512
	if n > max/2 {
		n = max
	}
	b := make([]byte, buf.Len(), n)
	copy(b, buf.Bytes())
	*buf = *bytes.NewBuffer(b)
}

// errBodyTimeout ends a body read past its deadline where the connection's
// own read deadline could not be set.
var errBodyTimeout = errors.New("rpc: the request body did not arrive in time")

// bodyTimeout returns how long a body for m may take to arrive.
func (r *Registry) bodyTimeout(m *method) time.Duration {
	if m != nil && m.BodyTimeout > 0 {
		return m.BodyTimeout
	}
	return r.opts.BodyTimeout
}

// limitBodyTime gives req's body until d from now to arrive. It sets the
// connection's read deadline, so a stalled client is cut off whatever the
// server's own timeouts are; a writer that cannot set one gets a body that
// checks the deadline at every read.
//
// Lift the limit once the body is read, before the handler runs: net/http
// then waits on the connection in the background, and a read deadline
// passing there would cancel the request's context. Do not lift it after a
// failed read: the connection is closed after the answer, and net/http
// would first drain what a trickling client still sends.
func (r *Registry) limitBodyTime(w http.ResponseWriter, req *http.Request, d time.Duration) bodyLimit {
	at := time.Now().Add(d) // the connection's deadline: the real clock's
	wt := reflect.TypeOf(w)
	if known, _ := r.noDeadline.Load().(reflect.Type); known != wt {
		err := http.NewResponseController(w).SetReadDeadline(at)
		if err == nil {
			return bodyLimit{w: w, onConn: true}
		}
		if !errors.Is(err, http.ErrNotSupported) {
			r.log.WarnContext(req.Context(), "rpc: set the body's read deadline", "err", err)
		} else {
			// Asking again would only cost an error per call.
			r.noDeadline.Store(wt)
			r.warnNoDeadline.Do(func() {
				r.log.WarnContext(req.Context(), "rpc: the ResponseWriter cannot set read deadlines (a middleware's writer without Unwrap?): "+
					"body timeouts are checked between reads only; set http.Server.ReadTimeout to end stalled bodies",
					"writer", fmt.Sprintf("%T", w))
			})
		}
	}
	req.Body = &deadlineBody{ReadCloser: req.Body, clock: r.clock, at: r.clock.Now().Add(d)}
	return bodyLimit{}
}

// bodyLimit is a deadline limitBodyTime put on a body.
type bodyLimit struct {
	w      http.ResponseWriter
	onConn bool // the connection's read deadline is set
}

// lift takes the connection's read deadline away.
func (l bodyLimit) lift() {
	if l.onConn {
		_ = http.NewResponseController(l.w).SetReadDeadline(time.Time{})
	}
}

// deadlineBody fails every read that starts past its deadline.
type deadlineBody struct {
	io.ReadCloser
	clock Clock
	at    time.Time
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.clock.Now().After(b.at) {
		return 0, errBodyTimeout
	}
	return b.ReadCloser.Read(p)
}

// isBodyTimeout reports whether a body read failed for its deadline.
func isBodyTimeout(err error) bool {
	if errors.Is(err, errBodyTimeout) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bodyTimedOut answers a body that did not arrive within d. The rest of it
// is not read, so the connection cannot be reused.
func bodyTimedOut(w http.ResponseWriter, d time.Duration) *Error {
	w.Header().Set("Connection", "close")
	return Errorf(CodeRequestTimeout, "the request body did not arrive within %s", d)
}
