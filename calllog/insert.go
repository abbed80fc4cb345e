package calllog

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// rowsPerInsert rows go into one INSERT: at most 700 parameters, far below
// SQLite's limit of 32766 and PostgreSQL's of 65535.
const rowsPerInsert = 100

// The columns INSERT writes. A row whose status text is its code's default
// leaves status_text out (NULL), which spares a text parameter, most rows'
// costliest; the others go into statements of their own.
const (
	plainColumns = "method, user_id, date, runtime, status, flags"
	textColumns  = plainColumns + ", status_text"
	plainParams  = 6
	textParams   = 7
)

// inserter holds what the INSERT writer reuses from batch to batch: the
// statements' text and the parameters' buffers.
type inserter struct {
	plain, texted []entryRef
	args          []any
	statements    map[[2]int]string // by parameters per row and rows
}

// entryRef is an entry to insert and the chunk whose texts it refers to.
type entryRef struct {
	c *chunk
	e *entry
}

// insert writes a group with prepared multi-row INSERTs: SQLite's way, and
// on PostgreSQL what the benchmarks compare with COPY. A multi-row INSERT
// with its values in the text costs SQLite more to parse than to store;
// one statement per row costs database/sql more per row than the row itself.
func (w *rowWriter) insert(ctx context.Context, group []*chunk, retry bool) error {
	in := &w.ins
	in.split(group)
	defer in.reset()
	return w.inFlushTx(ctx, retry, func(ctx context.Context, tx bun.Tx) error {
		if err := w.insertRows(ctx, tx, in.plain, plainParams); err != nil {
			return err
		}
		return w.insertRows(ctx, tx, in.texted, textParams)
	})
}

// split sorts the group's entries into those with the default status text
// and the others.
func (in *inserter) split(group []*chunk) {
	for _, c := range group {
		for i := range c.entries {
			ref := entryRef{c: c, e: &c.entries[i]}
			if ref.e.text == 0 {
				in.plain = append(in.plain, ref)
			} else {
				in.texted = append(in.texted, ref)
			}
		}
	}
}

func (in *inserter) reset() {
	clear(in.plain)
	clear(in.texted)
	clear(in.args)
	in.plain, in.texted, in.args = in.plain[:0], in.texted[:0], in.args[:0]
}

// insertRows inserts refs, rowsPerInsert at a time through one statement
// prepared for the transaction, the rest with a statement of their size.
func (w *rowWriter) insertRows(ctx context.Context, tx bun.Tx, refs []entryRef, params int) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for from := 0; from < len(refs); from += rowsPerInsert {
		part := refs[from:min(from+rowsPerInsert, len(refs))]
		args := w.args(part, params)
		text := w.ins.statement(params, len(part), w.m.pg)
		var err error
		switch {
		case len(part) < rowsPerInsert:
			_, err = tx.Tx.ExecContext(ctx, text, args...)
		case full == nil:
			if full, err = tx.Tx.PrepareContext(ctx, text); err != nil {
				return fmt.Errorf("prepare insert: %w", err)
			}
			fallthrough
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	return nil
}

// args returns the parameters of the INSERT of refs, in the driver's own
// types (int64, not int, which database/sql would convert by reflection),
// with the method numbers boxed once rather than per row.
func (w *rowWriter) args(refs []entryRef, params int) []any {
	args := w.ins.args[:0]
	for _, ref := range refs {
		e := ref.e
		var uid any
		if e.user != 0 {
			uid = e.user
		}
		var date any = e.micros()
		if w.m.pg {
			date = e.time()
		}
		args = append(args, w.ids.boxed[e.method], uid, date, max(e.runtime, 0), int64(e.code), int64(e.flags))
		if params == textParams {
			args = append(args, cleanText(ref.c.texts[e.text-1]))
		}
	}
	w.ins.args = args
	return args
}

// statement is the INSERT of rows rows of params parameters each, with
// SQLite's or PostgreSQL's placeholders.
func (in *inserter) statement(params, rows int, pg bool) string {
	key := [2]int{params, rows}
	if s, ok := in.statements[key]; ok {
		return s
	}
	cols := plainColumns
	if params == textParams {
		cols = textColumns
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + tableCalls + " (" + cols + ") VALUES ")
	n := 0
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range params {
			if j > 0 {
				b.WriteByte(',')
			}
			n++
			if pg {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	if in.statements == nil {
		in.statements = make(map[[2]int]string)
	}
	in.statements[key] = b.String()
	return in.statements[key]
}
