package calllog

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
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
//	header: flags (uvarint); with implicit ids, the index of the first row
//	        (uvarint); the client addresses the rows name (uvarint count,
//	        then each as its length, 4 or 16, and its bytes)
//	row:    date (uvarint, microseconds after the previous row's date, the
//	        first row's after first_date), with explicit ids the id
//	        (zigzag varint, the difference from the previous row's id; the
//	        first row's is the id), runtime (uvarint, nanoseconds), user
//	        (zigzag varint; 0 a guest), status (zigzag varint), flags
//	        (one byte), status text (uvarint length plus one, then the
//	        text; 0 for the status's own text), client address (uvarint:
//	        its place in the header's list plus one; 0 for none)
//
// Version 1, which batches written before the client address was stored
// have, lacks the addresses in the header and the rows; its rows read as
// having none.
//
// With implicit ids, row i of batch b has the id b<<batchIDShift | (first
// index + i): ids grow with the batches, so they break ties between rows
// of one microsecond in the order they were written. Rows carried over
// from the previous schema keep their ids, explicitly.
const (
	packV1        = 1
	packVersion   = 2
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
	addr    clientAddr
	seq     int // the order rows were queued in, for sorting only
}

// clientAddr is a client's IP address without pointers, so that queued
// entries keep none: n is 0 (unknown), 4 or 16 bytes of b.
type clientAddr struct {
	b [16]byte
	n uint8
}

// parseClientAddr reads an address as rpc.CallRecord has it; anything else
// is unknown. IPv4-mapped IPv6 addresses are stored as IPv4; zones are not
// stored.
func parseClientAddr(s string) clientAddr {
	if s == "" {
		return clientAddr{} // without the error ParseAddr would allocate
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return clientAddr{}
	}
	a = a.Unmap()
	var c clientAddr
	if a.Is4() {
		v := a.As4()
		copy(c.b[:], v[:])
		c.n = 4
	} else {
		c.b, c.n = a.As16(), 16
	}
	return c
}

// String is the address as text; "" when unknown.
func (c clientAddr) String() string {
	switch c.n {
	case 4:
		return netip.AddrFrom4([4]byte(c.b[:4])).String()
	case 16:
		return netip.AddrFrom16(c.b).String()
	}
	return ""
}

// addrTable numbers the distinct addresses of a batch's rows, for the
// header; the writer keeps one to reuse.
type addrTable struct {
	index map[clientAddr]uint64 // place + 1
	list  []clientAddr
}

func (t *addrTable) build(rows []packedRow) {
	if t.index == nil {
		t.index = make(map[clientAddr]uint64)
	}
	clear(t.index)
	t.list = t.list[:0]
	for i := range rows {
		a := rows[i].addr
		if a.n == 0 {
			continue
		}
		if _, ok := t.index[a]; !ok {
			t.list = append(t.list, a)
			t.index[a] = uint64(len(t.list))
		}
	}
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
// are implicit from first, the index of rows[0]. t is scratch space for
// the addresses (nil: its own).
func appendPacked(b []byte, rows []packedRow, explicit bool, first int, t *addrTable) []byte {
	if t == nil {
		t = new(addrTable)
	}
	t.build(rows)
	b = append(b, packVersion)
	if explicit {
		b = binary.AppendUvarint(b, packExplicit)
	} else {
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, uint64(first))
	}
	b = binary.AppendUvarint(b, uint64(len(t.list)))
	for _, a := range t.list {
		b = append(b, a.n)
		b = append(b, a.b[:a.n]...)
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
		if r.addr.n == 0 {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, t.index[r.addr])
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
	version := d.byte()
	if version != packVersion && version != packV1 {
		return rows, false, 0, fmt.Errorf("calllog: batch %d: unknown packing %d", p.id, version)
	}
	flags := d.uvarint()
	explicit = flags&packExplicit != 0
	if !explicit {
		first = int(d.uvarint())
	}
	var addrs []clientAddr
	if version >= 2 {
		addrs = d.addrs()
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
		if version >= 2 {
			if i := d.uvarint(); i > 0 {
				if i > uint64(len(addrs)) {
					d.err = errBadAddress
				} else {
					r.addr = addrs[i-1]
				}
			}
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

var (
	errShortBatch = errors.New("packed rows end early")
	errBadAddress = errors.New("a packed row names an address the batch lacks")
)

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

// addrs reads a header's list of addresses.
func (d *unpacker) addrs() []clientAddr {
	n := d.uvarint()
	if n > uint64(len(d.b))/5 { // each takes at least 5 bytes
		d.err = errShortBatch
		return nil
	}
	out := make([]clientAddr, 0, n)
	for range n {
		var a clientAddr
		a.n = d.byte()
		if a.n != 4 && a.n != 16 {
			d.err = errBadAddress
			return nil
		}
		if int(a.n) > len(d.b) {
			d.err = errShortBatch
			return nil
		}
		copy(a.b[:], d.b[:a.n])
		d.b = d.b[a.n:]
		out = append(out, a)
	}
	return out
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
