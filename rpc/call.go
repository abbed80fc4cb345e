package rpc

import (
	"context"
	"reflect"

	"github.com/authrpc/authrpc/auth"
)

// Call describes the call a handler is serving.
type Call struct {
	// Method is the id of the method called.
	Method string
	// ClientAddr is the caller's IP address (see Options.TrustedProxyHeader).
	ClientAddr string
	// UserAgent is the request's User-Agent header; over WebSocket, the
	// upgrade request's.
	UserAgent string
	// Void is set when the caller does not wait for the answer.
	Void bool
	// Upload is the uploaded file of an upload method, or nil.
	Upload *Upload
	// Caller is who called: nil or an unauthenticated principal for a guest.
	Caller *auth.Principal

	args []reflect.Value // the handler's arguments, after the context; see Params
	ctx  context.Context // the handler's context, where args[0] points
}

type callKey struct{}

// CallFromContext returns the call a handler is serving, or nil outside one.
func CallFromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// UploadFromContext returns the file uploaded with the call, or nil.
func UploadFromContext(ctx context.Context) *Upload {
	if c := CallFromContext(ctx); c != nil {
		return c.Upload
	}
	return nil
}

// Params returns the call's decoded parameters, one per Method.Params, as
// the handler receives them (omitted optional ones as their zero values).
// The slice is new on every call; the values are the handler's, so a
// middleware must not change what they point to.
func (c *Call) Params() []any {
	if len(c.args) < 2 {
		return nil
	}
	out := make([]any, len(c.args)-1)
	for i, v := range c.args[1:] {
		out[i] = v.Interface()
	}
	return out
}
