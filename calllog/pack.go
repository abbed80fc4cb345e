package calllog

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// The log is stored in batches: the rows of one method that one write
// stored, packed into one row of the batches table (id, method,
// first_date, last_date, n, data). A database then stores a row and its
// index entries per method and write, not per call, which is most of what
// storing a call cost; read-log unpacks the batches it reads, newest first.
//
// data is a version byte, a header and n packed rows, oldest first:
//
//	header: flags (uvarint); with implicit ids, the index of the first row (uvarint)
//	row:    date (uvarint, microseconds after the previous row's date, the
//	        first row's after first_date), with explicit ids the id
//	        (zigzag varint, the difference from the previous row's id; the
//	        first row's is the id), runtime (uvarint, nanoseconds), user
//	        (zigzag varint; 0 a guest), status (zigzag varint), flags
//	        (one byte), status text (uvarint length plus one, then the
//	        text; 0 for the status's own text)
//
// With implicit ids, row i of batch b has the id b<<batchIDShift | (first
// index + i): ids grow with the batches, so they break ties between rows
// of one microsecond in the order they were written. Rows carried over
// from the previous schema keep their ids, explicitly.
const (
	packVersion   = 1
	packExplicit  = 1 // header flag: every row has its id
	batchIDShift  = 16
	maxBatchRows  = 1<<batchIDShift - 1
	maxPackedText = maxStatusText
)

// packedRow is a stored row: all of it but the method.
type packedRow struct {
	id      int64
	date    int64 // Unix microseconds
	runtime int64 // nanoseconds, not negative
	user    int64 // 0: a guest
	status  int64
	flags   uint8
	hasText bool   // text is set: not the status's own text
	text    string // valid UTF-8, at most maxStatusText bytes
	seq     int    // the order rows were queued in, for sorting only
}

// sortRows orders rows by date, and rows of one date by id, then as they
// were queued: the order read-log reads them in, backwards.
func sortRows(rows []packedRow) {
	slices.SortStableFunc(rows, func(a, b packedRow) int {
		if c := cmp.Compare(a.date, b.date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// appendPacked appends rows, sorted by sortRows, as a batch's data from
// firstDate (rows[0].date): with explicit, with their ids; else their ids
// are implicit from first, the index of rows[0].
func appendPacked(b []byte, rows []packedRow, explicit bool, first int) []byte {
	b = append(b, packVersion)
	if explicit {
		b = binary.AppendUvarint(b, packExplicit)
	} else {
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, uint64(first))
	}
	prevDate, prevID := int64(0), int64(0)
	if len(rows) > 0 {
		prevDate = rows[0].date
	}
	for i := range rows {
		r := &rows[i]
		b = binary.AppendUvarint(b, uint64(r.date-prevDate))
		prevDate = r.date
		if explicit {
			b = binary.AppendVarint(b, r.id-prevID)
			prevID = r.id
		}
		b = binary.AppendUvarint(b, uint64(max(r.runtime, 0)))
		b = binary.AppendVarint(b, r.user)
		b = binary.AppendVarint(b, r.status)
		b = append(b, r.flags)
		if r.hasText {
			b = binary.AppendUvarint(b, uint64(len(r.text))+1)
			b = append(b, r.text...)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// packedBatch is a stored batch: its row of the batches table.
type packedBatch struct {
	id        int64
	firstDate int64 // Unix microseconds
	n         int
	data      []byte
}

// unpack appends the batch's rows to rows, oldest first, with their ids.
// It tells whether their ids were explicit and the index of the first.
func (p *packedBatch) unpack(rows []packedRow) (out []packedRow, explicit bool, first int, err error) {
	d := unpacker{b: p.data}
	if v := d.byte(); v != packVersion {
		return rows, false, 0, fmt.Errorf("calllog: batch %d: unknown packing %d", p.id, v)
	}
	flags := d.uvarint()
	explicit = flags&packExplicit != 0
	if !explicit {
		first = int(d.uvarint())
	}
	date, id := p.firstDate, int64(0)
	for i := range p.n {
		var r packedRow
		date += int64(d.uvarint())
		r.date = date
		if explicit {
			id += d.varint()
			r.id = id
		} else {
			r.id = p.id<<batchIDShift | int64(first+i)
		}
		r.runtime = int64(d.uvarint())
		r.user = d.varint()
		r.status = d.varint()
		r.flags = d.byte()
		if n := d.uvarint(); n > 0 {
			r.hasText, r.text = true, d.text(int(n-1))
		}
		if d.err != nil {
			break
		}
		rows = append(rows, r)
	}
	if d.err != nil {
		return rows, explicit, first, fmt.Errorf("calllog: batch %d: %w", p.id, d.err)
	}
	return rows, explicit, first, nil
}

var errShortBatch = errors.New("packed rows end early")

// unpacker reads a batch's data; the first read past its end sets err.
type unpacker struct {
	b   []byte
	err error
}

func (d *unpacker) byte() uint8 {
	if len(d.b) == 0 {
		d.err = errShortBatch
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *unpacker) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortBatch
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *unpacker) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortBatch
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *unpacker) text(n int) string {
	if n > len(d.b) {
		d.err = errShortBatch
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
