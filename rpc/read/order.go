package read

import (
	"slices"
	"strings"

	"github.com/authrpc/authrpc/internal/quote"
)

// sortable lists the fields order_by may name, for messages.
func (s *Spec) sortable() string {
	var names []string
	for i := range s.Fields {
		if s.Fields[i].Sortable {
			names = append(names, s.Fields[i].Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// parseOrder reads options.order_by: a field, a [field, direction] pair, or
// a list of them.
func (s *Spec) parseOrder(o *Options, v *node) *Error {
	var terms []*node
	switch {
	case v.kind == kindString:
		terms = []*node{v}
	case v.kind == kindArray && isPair(v):
		terms = []*node{v}
	case v.kind == kindArray:
		if v.count > len(s.Fields) || v.count > len(v.items) {
			return errorf("options.order_by: too many terms (%d); each sortable field may appear once", v.count)
		}
		for i := range v.items {
			terms = append(terms, &v.items[i])
		}
	default:
		return errorf(`options.order_by: expected a field, a [field, "asc"|"desc"] pair or a list of them, got %s`, v.describe())
	}
	o.OrderBy = make([]Order, 0, len(terms))
	for i, t := range terms {
		var name string
		var desc bool
		switch {
		case t.kind == kindString:
			name = t.s
		case t.kind == kindArray && isPair(t):
			name = t.items[0].s
			desc = strings.EqualFold(t.items[1].s, "desc")
		default:
			return errorf(`options.order_by[%d]: expected a field or a [field, "asc"|"desc"] pair, got %s`, i, t.describe())
		}
		f := s.Field(name)
		if f == nil || !f.Sortable {
			return errorf("options.order_by: unknown or unsortable field %s (sortable: %s)", quote.Short(name), s.sortable())
		}
		if slices.ContainsFunc(o.OrderBy, func(x Order) bool { return x.Field == name }) {
			return errorf("options.order_by: field %s is listed twice", quote.Short(name))
		}
		o.OrderBy = append(o.OrderBy, Order{Field: name, Desc: desc})
	}
	return nil
}

// isPair reports whether v is [field, "asc"|"desc"] (direction in any case).
func isPair(v *node) bool {
	if v.count != 2 || v.items[0].kind != kindString || v.items[1].kind != kindString {
		return false
	}
	d := v.items[1].s
	return strings.EqualFold(d, "asc") || strings.EqualFold(d, "desc")
}
