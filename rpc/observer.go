package rpc

import (
	"errors"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// CallRecord describes a finished call, for observers such as the call log.
type CallRecord struct {
	Method     string
	UserID     int64 // 0 for a guest
	Start      time.Time
	Runtime    time.Duration
	Code       int
	StatusText string
	// Declined: refused for permissions or a rate limit; the handler did not run.
	Declined bool
	// Error: the answer is an error (the handler's, or a refusal).
	Error bool
	// Exception: an internal error or a panic.
	Exception bool
	Void      bool
	// ClientAddr is the caller's IP address, as Call.ClientAddr has it.
	ClientAddr string
	// CallerKind is what the caller authenticated with (auth.KindSession,
	// auth.KindAPIToken, a host's kind); empty for a guest.
	CallerKind auth.Kind
}

// Observer watches finished calls. ObserveCall runs on the request's
// goroutine after the answer is written, so it must not block: queue the
// record and return.
type Observer interface {
	ObserveCall(CallRecord)
}

// Observe adds an observer of every call of a method with the call log on.
func (r *Registry) Observe(o Observer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []Observer
	if old := r.observers.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, o)
	r.observers.Store(&list)
}

func (r *Registry) observe(rec CallRecord) {
	if list := r.observers.Load(); list != nil {
		for _, o := range *list {
			o.ObserveCall(rec)
		}
	}
}

// record reports the finished call to the observers (when its method keeps
// a call log) and to the hooks.
func (x *exchange) record(code int, err error) {
	if code == 0 {
		code = CodeOK
	}
	x.report(code, err, false)
}

// recordDeclined records a call refused for permissions or a rate limit.
func (x *exchange) recordDeclined(code int) { x.report(code, nil, true) }

func (x *exchange) report(code int, err error, declined bool) {
	logged := x.m != nil && x.m.logged
	if !logged && x.hooks == nil {
		return
	}
	rec := CallRecord{
		Start:      x.start,
		Runtime:    x.r.clock.Now().Sub(x.start),
		Code:       code,
		Declined:   declined,
		Error:      declined || code < 0 || code >= 400,
		Exception:  !declined && code == CodeInternal && err != nil,
		Void:       x.void,
		ClientAddr: x.call.ClientAddr,
	}
	if x.m != nil {
		rec.Method = x.m.ID
	} else {
		rec.Method = x.reservedID
	}
	if declined {
		rec.StatusText = StatusText(code)
	} else {
		rec.StatusText = statusTextOf(code, err)
	}
	if p := x.principal; p != nil {
		rec.UserID, rec.CallerKind = p.UserID, p.Kind
	}
	if logged {
		x.r.observe(rec)
	}
	x.endHooks(rec)
}

func statusTextOf(code int, err error) string {
	if err == nil {
		return StatusText(code)
	}
	var e *Error
	if errors.As(err, &e) && e.Code == code {
		return e.Message
	}
	return StatusText(code)
}
