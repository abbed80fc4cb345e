package rpc

import (
	"context"
	"reflect"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc/read"
)

// Result lets a handler set more than the data of a successful answer.
type Result struct {
	// Code is CodeOK (the default when zero) or CodeNoContent, "OK,
	// nothing changed", which is sent as HTTP 200 with status 204 in the body.
	Code int
	Data any
	// Meta carries extras, such as {"total": N} for read methods.
	Meta map[string]any
	// Fields are sent at the top level of result, beside data and meta, in
	// the order of their keys: the @softvisio/core 4.x client copies every
	// field of result, and its grids read total and summary there. Keys the
	// envelope uses itself (status, status_text, exception, data, meta) are
	// skipped.
	Fields map[string]any
}

// Page answers rows with meta.total, as read methods do, and with total and
// summary: {total} at the top level, where @softvisio/core grids read them.
func Page[T any](rows []T, total int) Result {
	if rows == nil {
		rows = []T{}
	}
	return Result{
		Data:   rows,
		Meta:   map[string]any{"total": total},
		Fields: map[string]any{"total": total, "summary": map[string]any{"total": total}},
	}
}

// ReadPage answers a read method's rows as o asked: Page, or, when o names
// one row by options.id, that row as an object (404 when there is none).
func ReadPage[T any](o read.Options, rows []T, total int) (Result, error) {
	if !o.One {
		return Page(rows, total), nil
	}
	if len(rows) == 0 {
		return Result{}, NotFound("no row with id %v", o.ID)
	}
	return Result{Data: rows[0]}, nil
}

// NoContent answers 204: the call succeeded and changed nothing.
func NoContent() Result { return Result{Code: CodeNoContent} }

// Call describes the call a handler is serving.
type Call struct {
	// Method is the id of the method called.
	Method string
	// ClientAddr is the caller's IP address (see Options.TrustedProxyHeader).
	ClientAddr string
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
