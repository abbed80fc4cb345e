package rpc

import (
	"github.com/authrpc/authrpc/rpc/read"
)

// Result lets a handler set more than the data of a successful answer.
type Result struct {
	// Code is CodeOK (the default when zero) or CodeNoContent, "OK,
	// nothing changed", which is sent as HTTP 200 with status 204 in the body.
	Code int
	// Data is encoded with encoding/json, but for a json.RawMessage, which
	// is sent as it is, unchecked: it must be valid JSON. (encoding/json
	// checks and compacts one byte by byte, which for a large answer made
	// by hand costs more than making it.)
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
