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

// inserter holds what the INSERT writer reuses from batch to batch: its
// statements, prepared on the pool (database/sql prepares each once on a
// connection and reuses it there), and the parameters' buffers.
type inserter struct {
	plain, texted []entryRef
	args          []any
	stmts         map[[2]int]*sql.Stmt // by parameters per row and rows
}

// insertSizes are the rows per statement: a part smaller than the first
// is written by the others, so that every statement is prepared once.
var insertSizes = [...]int{rowsPerInsert, 10, 1}

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
	// Prepared before the transaction takes its connection: a pool of one
	// (an in-memory SQLite database) has none to spare inside it.
	if err := w.prepare(ctx, len(in.plain), plainParams); err != nil {
		return err
	}
	if err := w.prepare(ctx, len(in.texted), textParams); err != nil {
		return err
	}
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

// sizeFor is the index in insertSizes of the statement that writes the
// next of rows rows.
func sizeFor(rows int) int {
	k := 0
	for insertSizes[k] > rows {
		k++
	}
	return k
}

// prepare makes sure the statements that write rows rows are prepared.
func (w *rowWriter) prepare(ctx context.Context, rows, params int) error {
	for rows > 0 {
		n := insertSizes[sizeFor(rows)]
		if _, err := w.ins.stmt(ctx, w.m, params, n); err != nil {
			return err
		}
		rows -= n * (rows / n)
	}
	return nil
}

// insertRows inserts refs through statements of insertSizes rows, which
// prepare prepared.
func (w *rowWriter) insertRows(ctx context.Context, tx bun.Tx, refs []entryRef, params int) error {
	var inTx [len(insertSizes)]*sql.Stmt
	for from := 0; from < len(refs); {
		k := sizeFor(len(refs) - from)
		n := insertSizes[k]
		if inTx[k] == nil {
			s, err := w.ins.stmt(ctx, w.m, params, n)
			if err != nil {
				return err
			}
			inTx[k] = tx.Tx.StmtContext(ctx, s)
		}
		if _, err := inTx[k].ExecContext(ctx, w.args(refs[from:from+n], params)...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		from += n
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

// stmt is the prepared INSERT of rows rows of params parameters each.
// prepared on m's database for m's calls table.
func (in *inserter) stmt(ctx context.Context, m *Module, params, rows int) (*sql.Stmt, error) {
	key := [2]int{params, rows}
	if s := in.stmts[key]; s != nil {
		return s, nil
	}
	s, err := m.db.DB.PrepareContext(ctx, insertStatement(m.tables.calls, params, rows, m.pg))
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	if in.stmts == nil {
		in.stmts = make(map[[2]int]*sql.Stmt)
	}
	in.stmts[key] = s
	return s, nil
}

// close closes the prepared statements.
func (in *inserter) close() {
	for _, s := range in.stmts {
		_ = s.Close()
	}
	clear(in.stmts)
}

// insertStatement is the INSERT into calls of rows rows of params
// parameters each, with SQLite's or PostgreSQL's placeholders.
func insertStatement(calls string, params, rows int, pg bool) string {
	cols := plainColumns
	if params == textParams {
		cols = textColumns
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + calls + " (" + cols + ") VALUES ")
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
	return b.String()
}
