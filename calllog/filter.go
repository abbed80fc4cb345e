package calllog

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
)

// readLogSpec declares read-log's options: the rows of one method (named
// with "="), narrowed by their status, user, flags, client address and a
// range of their start. They come newest first; there is nothing else to
// sort by.
var readLogSpec = &read.Spec{
	Fields: []read.Field{
		{Name: "method_id", Type: read.String, Conditions: []string{"="}, Required: true},
		{Name: "status", Type: read.Integer, Conditions: []string{"=", "!=", "in", "not in"}},
		{Name: "user_id", Type: read.ID, Conditions: []string{"=", "!=", "in", "not in"}},
		{Name: "date_from", Type: read.Time, Conditions: []string{">=", ">"}},
		{Name: "date_to", Type: read.Time, Conditions: []string{"<", "<="}},
		{Name: "is_error", Type: read.Boolean, Conditions: []string{"="}},
		{Name: "is_declined", Type: read.Boolean, Conditions: []string{"="}},
		{Name: "is_exception", Type: read.Boolean, Conditions: []string{"="}},
		{Name: "remote_address", Type: read.String, Conditions: []string{"=", "!="}},
	},
	MaxLimit: 100,
}

// logFilter is read-log's where beyond method_id: the range of start dates
// (Unix microseconds, both ends included) and the conditions on the rest
// of a row.
type logFilter struct {
	from, to int64
	conds    []func(r *packedRow) bool
}

// matches reports whether r meets every condition.
func (f *logFilter) matches(r *packedRow) bool {
	if r.date < f.from || r.date > f.to {
		return false
	}
	for _, c := range f.conds {
		if !c(r) {
			return false
		}
	}
	return true
}

// datesOnly reports whether the filter is a date range alone: a batch
// within it then matches whole.
func (f *logFilter) datesOnly() bool { return len(f.conds) == 0 }

// newLogFilter makes the filter of opts' conditions (method_id aside);
// what read.Spec cannot refuse (null where a row always has a value, an
// address that is none) it refuses with -32808.
func newLogFilter(opts read.Options) (*logFilter, error) {
	f := &logFilter{from: math.MinInt64, to: math.MaxInt64}
	for _, c := range opts.Where {
		if c.Value == nil && c.Field != "user_id" && c.Field != "remote_address" && c.Field != "method_id" {
			return nil, rpc.InvalidParams(`parameter 1 "options": options.where.%s: null matches no call`, c.Field)
		}
		switch c.Field {
		case "status":
			f.conds = append(f.conds, intCond(c, func(r *packedRow) int64 { return r.status }))
		case "user_id":
			f.conds = append(f.conds, intCond(c, func(r *packedRow) int64 { return r.user }))
		case "date_from":
			ns := c.Value.(time.Time).UnixNano()
			if c.Op == ">" {
				f.from = max(f.from, floorDiv(ns, 1000)+1)
			} else {
				f.from = max(f.from, ceilDiv(ns, 1000))
			}
		case "date_to":
			ns := c.Value.(time.Time).UnixNano()
			if c.Op == "<" {
				f.to = min(f.to, ceilDiv(ns, 1000)-1)
			} else {
				f.to = min(f.to, floorDiv(ns, 1000))
			}
		case "is_error", "is_declined", "is_exception":
			flag := map[string]uint8{"is_error": flagError, "is_declined": flagDeclined, "is_exception": flagException}[c.Field]
			want := c.Value.(bool)
			f.conds = append(f.conds, func(r *packedRow) bool { return (r.flags&flag != 0) == want })
		case "remote_address":
			var a clientAddr // null: unknown
			if c.Value != nil {
				s := c.Value.(string)
				if _, err := netip.ParseAddr(s); err != nil {
					return nil, rpc.InvalidParams(`parameter 1 "options": options.where.remote_address: expected an IP address, got %s`, rpc.Quote(s))
				}
				a = parseClientAddr(s)
			}
			equal := c.Op == "="
			f.conds = append(f.conds, func(r *packedRow) bool { return (r.addr == a) == equal })
		}
	}
	return f, nil
}

// intCond is the condition c on the integer field of a row that get reads;
// a null value stands for 0 (a guest's user id).
func intCond(c read.Condition, get func(*packedRow) int64) func(*packedRow) bool {
	var list []int64
	switch v := c.Value.(type) {
	case nil:
		list = []int64{0}
	case int64:
		list = []int64{v}
	case []any:
		for _, x := range v {
			list = append(list, x.(int64))
		}
	}
	in := c.Op == "=" || c.Op == "in"
	if len(list) == 1 {
		want := list[0]
		return func(r *packedRow) bool { return (get(r) == want) == in }
	}
	return func(r *packedRow) bool { return slices.Contains(list, get(r)) == in }
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
