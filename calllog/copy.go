package calllog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// copyStatement loads rows into calls in PostgreSQL's binary COPY format,
// which encodeCopy writes.
func copyStatement(calls string) string {
	return `COPY ` + calls + ` (method, user_id, date, runtime, status, flags, status_text)
	FROM STDIN (FORMAT binary)`
}

// copy writes a group of chunks to PostgreSQL with COPY, which costs the server and the
// writer a fraction of what a multi-row INSERT costs (no SQL text to build
// and parse), in a transaction with the chunk's flush mark.
func (w *rowWriter) copy(ctx context.Context, group []*chunk, retry bool) error {
	w.buf.Reset()
	encodeCopy(&w.buf, group, w.ids.ids)
	conn, err := w.m.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: the driver connection is %T, not pgx's", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }() // after Commit, a no-op
		if retry {
			var done bool
			err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+w.m.tables.flushes+" WHERE token = $1)", w.token).Scan(&done)
			if err != nil {
				return fmt.Errorf("check flush mark: %w", err)
			}
			if done {
				return tx.Commit(ctx)
			}
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(w.buf.Bytes()), w.m.tables.copy); err != nil {
			return fmt.Errorf("copy: %w", err)
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+w.m.tables.flushes+" (token, date) VALUES ($1, $2)", w.token, w.m.opts.Now().UTC())
		if err != nil {
			return fmt.Errorf("mark flush: %w", err)
		}
		return tx.Commit(ctx)
	})
}

// pgEpoch is where PostgreSQL's binary timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// encodeCopy writes the group's entries as a COPY binary stream: a header,
// per row the field count and each field as its length (-1 for NULL) and
// bytes, and a trailer. methods are the stored method numbers by queue
// index. Writing it by hand costs no allocation per row.
func encodeCopy(b *bytes.Buffer, group []*chunk, methods []int64) {
	var n [8]byte
	i16 := func(v int16) { b.Write(binary.BigEndian.AppendUint16(n[:0], uint16(v))) }
	i32 := func(v int32) { b.Write(binary.BigEndian.AppendUint32(n[:0], uint32(v))) }
	i64 := func(v int64) { b.Write(binary.BigEndian.AppendUint64(n[:0], uint64(v))) }

	b.WriteString("PGCOPY\n\xff\r\n\x00")
	i32(0) // flags
	i32(0) // header extension
	for _, c := range group {
		for k := range c.entries {
			e := &c.entries[k]
			i16(7)
			i32(4)
			i32(int32(methods[e.method]))
			if e.user != 0 {
				i32(8)
				i64(e.user)
			} else {
				i32(-1)
			}
			i32(8)
			i64(e.micros() - pgEpoch)
			i32(8)
			i64(max(e.runtime, 0))
			i32(4)
			i32(e.code)
			i32(2)
			i16(int16(e.flags))
			if e.text == 0 {
				i32(-1) // the code's default
			} else {
				s := cleanText(c.texts[e.text-1])
				i32(int32(len(s)))
				b.WriteString(s)
			}
		}
	}
	i16(-1)
}
