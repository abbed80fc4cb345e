package rpc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"time"
)

// errBodyTimeout ends a body read past its deadline where the connection's
// own read deadline could not be set.
var errBodyTimeout = errors.New("rpc: the request body did not arrive in time")

// callTimeout returns the deadline of a call of m.
func (r *Registry) callTimeout(m *method) time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return r.opts.CallTimeout
}

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
	at := time.Now().Add(d)
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
	req.Body = &deadlineBody{ReadCloser: req.Body, at: at}
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
	at time.Time
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if time.Now().After(b.at) {
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
