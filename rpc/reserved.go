package rpc

import (
	"context"
	"time"
)

// Reserved method ids, answered by the registry itself unless a method of
// that id is registered.
const (
	MethodPing        = "/ping"
	MethodPong        = "/pong"
	MethodHealthcheck = "/healthcheck"
)

// healthcheckTimeout bounds Options.Healthcheck.
const healthcheckTimeout = 5 * time.Second

// reservedName returns the id an HTTP request names that may be a
// reserved method: a request object's at the mount root, else the path's.
func reservedName(path string, mounted bool, in *body) string {
	switch {
	case !mounted:
		return ""
	case in.request && (path == "/" || path == ""):
		return in.method
	}
	return path
}

// reserved answers the registry's own methods, for probes: /ping and
// /healthcheck. It reports whether id was one of them.
// The hooks see it as a call of id.
func (x *exchange) reserved(ctx context.Context, id string) bool {
	switch id {
	case MethodPing:
		x.m, x.reservedID = nil, MethodPing
		x.writeResult(Result{})
		x.record(CodeOK, nil)
		return true
	case MethodHealthcheck:
		x.m, x.reservedID = nil, MethodHealthcheck
		if err := x.r.healthcheck(ctx); err != nil {
			x.r.log.ErrorContext(ctx, "rpc: healthcheck failed", "err", err)
			e := NewError(CodeServiceUnavailable, "")
			x.writeError(e)
			x.record(e.Code, e)
			return true
		}
		x.writeResult(Result{})
		x.record(CodeOK, nil)
		return true
	}
	return false
}

func (r *Registry) healthcheck(ctx context.Context) error {
	if r.opts.Healthcheck == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	return r.opts.Healthcheck(ctx)
}
