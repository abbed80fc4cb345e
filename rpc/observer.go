package rpc

import (
	"errors"
	"time"
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

func (x *exchange) record(code int, err error) {
	if code == 0 {
		code = CodeOK
	}
	if !x.m.logged {
		return
	}
	var uid int64
	if x.principal != nil {
		uid = x.principal.UserID
	}
	isErr := code < 0 || code >= 400
	x.r.observe(CallRecord{
		Method:     x.m.ID,
		UserID:     uid,
		Start:      x.start,
		Runtime:    x.r.clock.Now().Sub(x.start),
		Code:       code,
		StatusText: statusTextOf(code, err),
		Error:      isErr,
		Exception:  code == CodeInternal && err != nil,
		Void:       x.void,
		ClientAddr: x.call.ClientAddr,
	})
}

func (x *exchange) recordDeclined(code int) {
	if !x.m.logged {
		return
	}
	var uid int64
	if x.principal != nil {
		uid = x.principal.UserID
	}
	x.r.observe(CallRecord{
		Method: x.m.ID, UserID: uid, Start: x.start, Runtime: x.r.clock.Now().Sub(x.start),
		Code: code, StatusText: StatusText(code), Declined: true, Error: true, Void: x.void,
		ClientAddr: x.call.ClientAddr,
	})
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
