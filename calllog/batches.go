package calllog

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// packer holds what the writer reuses from group to group: the rows of
// each method being packed, the batches' data and the INSERT's parameters.
type packer struct {
	byMethod map[uint32][]packedRow
	methods  []uint32
	data     []byte
	args     []any
	addrs    addrTable
}

// batchesPerInsert bounds the batches one INSERT stores (5 parameters each).
const batchesPerInsert = 100

// store writes a group of chunks as one batch per method (more when a
// method has more than maxBatchRows rows in it), in a transaction with the
// group's flush mark.
func (w *rowWriter) store(ctx context.Context, group []*chunk, retry bool) error {
	p := &w.pack
	if p.byMethod == nil {
		p.byMethod = make(map[uint32][]packedRow)
	}
	seq := 0
	for _, c := range group {
		for i := range c.entries {
			e := &c.entries[i]
			r := packedRow{date: e.micros(), runtime: e.runtime, user: e.user, status: int64(e.code), flags: e.flags, addr: e.addr, seq: seq}
			if e.text != 0 {
				r.hasText, r.text = true, cleanText(c.texts[e.text-1])
			}
			seq++
			rows := p.byMethod[e.method]
			if len(rows) == 0 {
				p.methods = append(p.methods, e.method)
			}
			p.byMethod[e.method] = append(rows, r)
		}
	}
	defer p.reset()
	slices.Sort(p.methods) // the same order on every instance
	p.data = p.data[:0]
	type batch struct {
		method      int64
		first, last int64
		n           int
		from, to    int // its data in p.data
	}
	var batches []batch
	for _, method := range p.methods {
		rows := p.byMethod[method]
		sortRows(rows)
		for part := range slices.Chunk(rows, maxBatchRows) {
			from := len(p.data)
			p.data = appendPacked(p.data, part, false, 0, &p.addrs)
			batches = append(batches, batch{w.ids.ids[method], part[0].date, part[len(part)-1].date, len(part), from, len(p.data)})
		}
	}
	return w.m.inFlushTx(ctx, w.token, retry, func(ctx context.Context, tx bun.Tx) error {
		for part := range slices.Chunk(batches, batchesPerInsert) {
			p.args = p.args[:0]
			for _, b := range part {
				p.args = append(p.args, b.method, b.first, b.last, int64(b.n), p.data[b.from:b.to])
			}
			if _, err := tx.Tx.ExecContext(ctx, insertBatches(w.m.tables.batches, len(part), w.m.pg), p.args...); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
		}
		return nil
	})
}

func (p *packer) reset() {
	for _, m := range p.methods {
		rows := p.byMethod[m]
		clear(rows)
		p.byMethod[m] = rows[:0]
	}
	if len(p.byMethod) > 4*len(p.methods)+64 {
		clear(p.byMethod) // methods that went quiet
	}
	p.methods = p.methods[:0]
	clear(p.args)
	p.args = p.args[:0]
}

// insertBatches is the INSERT of n batches into table, with SQLite's or
// PostgreSQL's placeholders.
func insertBatches(table string, n int, pg bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (method, first_date, last_date, n, data) VALUES ")
	k := 0
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range 5 {
			if j > 0 {
				b.WriteByte(',')
			}
			k++
			if pg {
				b.WriteString("$" + strconv.Itoa(k))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// batchRowsOrder orders batch rows as read-log reads them: newest first.
func batchRowsOrder(a, b packedRow) int {
	if c := cmp.Compare(b.date, a.date); c != 0 {
		return c
	}
	return cmp.Compare(b.id, a.id)
}
