package read

import "slices"

// Order is one term of order_by.
type Order struct {
	Field string
	Desc  bool
}

// Condition is one condition of where. Value is typed per the field's type
// (string, int64, float64, bool, time.Time); for "in" and "not in" it is a
// []any of such values; nil for "=" and "!=" means IS NULL and IS NOT NULL.
type Condition struct {
	Field string
	Op    string
	Value any
}

// Options are the options of one call, made by Spec.Parse or Spec.Defaults.
type Options struct {
	Where   []Condition
	OrderBy []Order
	Limit   int
	Offset  int
	// One is set when options.id named one row: Where then holds id = ID,
	// and rpc.ReadPage answers the row as an object.
	One bool
	// ID is the value options.id named, when One is set.
	ID any

	spec *Spec
}

// Spec returns the spec that made o, which maps o's fields to their
// columns; nil for options made by hand.
func (o Options) Spec() *Spec { return o.spec }

// Value returns the value of the first "=" condition on field, e.g. the
// method_id a call-log read requires. A nil value (IS NULL) counts.
func (o Options) Value(field string) (any, bool) {
	for _, c := range o.Where {
		if c.Field == field && c.Op == "=" {
			return c.Value, true
		}
	}
	return nil, false
}

// Defaults returns the options of a call that sends none: no conditions,
// DefaultOrder, Limit = MaxLimit. It does not check Required fields; Parse(nil)
// does, so an omitted parameter should go through Parse.
func (s *Spec) Defaults() Options {
	return Options{
		OrderBy: slices.Clone(s.DefaultOrder),
		Limit:   s.maxLimit(),
		spec:    s,
	}
}
