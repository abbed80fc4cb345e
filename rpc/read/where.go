package read

import (
	"slices"
	"strconv"
	"strings"

	"github.com/authrpc/authrpc/internal/quote"
)

// filterable lists the fields where may name, for messages.
func (s *Spec) filterable() string {
	var names []string
	for i := range s.Fields {
		if len(s.Fields[i].Conditions) > 0 {
			names = append(names, s.Fields[i].Name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// allowedOps lists the operators of f, quoted, for messages.
func allowedOps(f *Field) string {
	quoted := make([]string, len(f.Conditions))
	for i, op := range f.Conditions {
		quoted[i] = strconv.Quote(op)
	}
	return strings.Join(quoted, ", ")
}

// parseWhere reads options.where: an object of conditions by field name.
func (s *Spec) parseWhere(o *Options, v *node) *Error {
	if v.kind != kindObject {
		return errorf("options.where: expected an object, got %s", v.describe())
	}
	// Appended to, not replaced: options.id may have come first.
	if o.Where == nil {
		o.Where = make([]Condition, 0, len(v.keys))
	}
	for i, name := range v.keys {
		f := s.Field(name)
		if f == nil || len(f.Conditions) == 0 {
			return errorf("options.where: unknown field %s (filterable: %s)", quote.Short(name), s.filterable())
		}
		c, err := parseCondition(f, &v.vals[i])
		if err != nil {
			return err
		}
		o.Where = append(o.Where, c)
	}
	return nil
}

// parseCondition reads one condition: a bare value (the operator "=") or an
// [operator, value] pair, the value typed per the field.
func parseCondition(f *Field, v *node) (Condition, *Error) {
	c := Condition{Field: f.Name, Op: "="}
	explicit := v.kind == kindArray
	val := v
	if explicit {
		if v.count != 2 {
			return c, errorf(`options.where.%s: expected a value or an [operator, value] pair, got an array of %d items`, f.Name, v.count)
		}
		opNode := &v.items[0]
		if opNode.kind != kindString {
			return c, errorf("options.where.%s: the operator must be a string, got %s", f.Name, opNode.describe())
		}
		c.Op = opNode.s
		val = &v.items[1]
		if !slices.Contains(operators, c.Op) {
			return c, errorf("options.where.%s: unknown operator %s (allowed: %s)", f.Name, quote.Short(c.Op), allowedOps(f))
		}
	}
	if !slices.Contains(f.Conditions, c.Op) {
		if !explicit {
			return c, errorf(`options.where.%s: a bare value means "=", which is not allowed here (allowed: %s); send [operator, value]`, f.Name, allowedOps(f))
		}
		return c, errorf("options.where.%s: operator %s is not allowed (allowed: %s)", f.Name, quote.Short(c.Op), allowedOps(f))
	}
	// The operator is named in messages only when the request named it.
	opFor := ""
	if explicit {
		opFor = " for " + strconv.Quote(c.Op)
	}
	switch c.Op {
	case "in", "not in":
		if val.kind != kindArray || val.count == 0 || val.count > maxInValues {
			return c, errorf("options.where.%s: expected a non-empty array of at most %d values%s, got %s", f.Name, maxInValues, opFor, val.describe())
		}
		list := make([]any, val.count)
		for j := range val.items {
			item := &val.items[j]
			if item.kind == kindNull {
				return c, errorf(`options.where.%s: null cannot be in the list%s (item %d); use ["=", null]`, f.Name, opFor, j)
			}
			x, what := typedValue(f, item)
			if what != "" {
				return c, errorf("options.where.%s: expected %s%s (item %d), got %s", f.Name, what, opFor, j, item.describe())
			}
			list[j] = x
		}
		c.Value = list
	case "like":
		if val.kind != kindString {
			return c, errorf("options.where.%s: expected a string%s, got %s", f.Name, opFor, val.describe())
		}
		if what := checkString(val.s); what != "" {
			return c, errorf("options.where.%s: expected %s%s", f.Name, what, opFor)
		}
		c.Value = val.s
	default:
		if val.kind == kindNull {
			if c.Op != "=" && c.Op != "!=" {
				return c, errorf(`options.where.%s: null is allowed only with "=" and "!=", not %s`, f.Name, quote.Short(c.Op))
			}
			return c, nil
		}
		x, what := typedValue(f, val)
		if what != "" {
			return c, errorf("options.where.%s: expected %s%s, got %s", f.Name, what, opFor, val.describe())
		}
		c.Value = x
	}
	return c, nil
}
