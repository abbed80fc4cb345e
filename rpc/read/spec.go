package read

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Type is the type of a field's values in conditions.
type Type string

// The types a field's values may have, and the Go types Parse gives them.
const (
	String  Type = "string"  // a JSON string -> string
	Integer Type = "integer" // a JSON integer -> int64
	Number  Type = "number"  // a JSON number -> float64
	Boolean Type = "boolean" // a JSON boolean -> bool
	Time    Type = "time"    // an RFC 3339 string -> time.Time in UTC; see storage/readsql for SQLite
	ID      Type = "id"      // a string of digits, or a JSON integer, ≥ 0 -> int64
)

// Limits of the options a request may send.
const (
	defaultMaxLimit = 100
	maxInValues     = 100
	maxOffset       = 1_000_000_000
	maxStringBytes  = 4096
)

// operators are those a field may declare, in the order the reference lists them.
var operators = []string{"=", "!=", "<", ">", "<=", ">=", "like", "in", "not in"}

// Field declares one field of a method's options: whether and how it can be
// filtered in where and whether it can be sorted by in order_by.
type Field struct {
	// Name is the field's name in options (where and order_by keys).
	Name string
	// Column is the SQL column, possibly qualified ("u.name"); it defaults to Name.
	Column string
	// Columns makes a virtual field searched over several columns: a like
	// condition matches when any of them matches.
	Columns []string
	// Type is the type of the field's values; it defaults to String.
	Type Type
	// Conditions are the operators allowed in where: "=", "!=", "<", ">",
	// "<=", ">=", "like", "in", "not in". None: the field is not filterable.
	Conditions []string
	// Sortable allows the field in order_by.
	Sortable bool
	// Required makes where name this field.
	Required bool
}

// Spec declares the options a list method accepts.
// A spec is plain data: build it once, Check it (rpc's registry does) and do
// not change it afterwards, since parsed options keep a pointer to it.
type Spec struct {
	Fields []Field
	// MaxLimit is the default and the cap of limit; 0 means 100.
	MaxLimit int
	// DefaultOrder applies when order_by is absent, e.g. id desc; it may be empty.
	DefaultOrder []Order
}

// Field returns the declared field named name, or nil.
func (s *Spec) Field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func (s *Spec) maxLimit() int {
	if s.MaxLimit <= 0 {
		return defaultMaxLimit
	}
	return s.MaxLimit
}

func (f *Field) valueType() Type {
	if f.Type == "" {
		return String
	}
	return f.Type
}

// Check validates the spec itself: identifiers, known types and operators, no
// duplicate names, like only on string fields, Columns only with like, and a
// default order of sortable fields.
func (s *Spec) Check() error {
	if s == nil {
		return errors.New("read: spec is nil")
	}
	if s.MaxLimit < 0 {
		return fmt.Errorf("read: spec: MaxLimit %d is negative", s.MaxLimit)
	}
	seen := make(map[string]bool, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		if err := checkField(f); err != nil {
			return fmt.Errorf("read: spec: field %q: %w", f.Name, err)
		}
		if seen[f.Name] {
			return fmt.Errorf("read: spec: field %q is declared twice", f.Name)
		}
		seen[f.Name] = true
	}
	ordered := make(map[string]bool, len(s.DefaultOrder))
	for _, o := range s.DefaultOrder {
		f := s.Field(o.Field)
		if f == nil || !f.Sortable {
			return fmt.Errorf("read: spec: default order field %q is not a declared sortable field", o.Field)
		}
		if ordered[o.Field] {
			return fmt.Errorf("read: spec: default order lists %q twice", o.Field)
		}
		ordered[o.Field] = true
	}
	return nil
}

func checkField(f *Field) error {
	if !isWord(f.Name) {
		return errors.New("name must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
	}
	switch f.valueType() {
	case String, Integer, Number, Boolean, Time, ID:
	default:
		return fmt.Errorf("unknown type %q", f.Type)
	}
	if err := checkColumns(f); err != nil {
		return err
	}
	ops := make(map[string]bool, len(f.Conditions))
	for _, op := range f.Conditions {
		if !slices.Contains(operators, op) {
			return fmt.Errorf("unknown operator %q", op)
		}
		if ops[op] {
			return fmt.Errorf("operator %q is declared twice", op)
		}
		ops[op] = true
	}
	if ops["like"] && f.valueType() != String {
		return errors.New("like needs a string field")
	}
	if len(f.Columns) > 0 {
		if len(f.Conditions) != 1 || !ops["like"] {
			return errors.New("a field over several Columns allows only like")
		}
		if f.Sortable {
			return errors.New("a field over several Columns cannot be sortable")
		}
	}
	if f.Required && len(f.Conditions) == 0 {
		return errors.New("a required field must allow some operator")
	}
	if f.Sortable && (strings.EqualFold(f.Name, "asc") || strings.EqualFold(f.Name, "desc")) {
		// order_by ["asc", "desc"] would be ambiguous.
		return errors.New("a sortable field cannot be named asc or desc")
	}
	return nil
}

// checkColumns refuses column names that are not identifiers: they are
// written into SQL as they are.
func checkColumns(f *Field) error {
	if f.Column != "" && !isColumn(f.Column) {
		return fmt.Errorf("column %q is not a plain identifier", f.Column)
	}
	if f.Column != "" && len(f.Columns) > 0 {
		return errors.New("set Column or Columns, not both")
	}
	for _, c := range f.Columns {
		if !isColumn(c) {
			return fmt.Errorf("column %q is not a plain identifier", c)
		}
	}
	return nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isColumn reports whether s is a plain or table-qualified identifier.
func isColumn(s string) bool {
	table, col, ok := strings.Cut(s, ".")
	if !ok {
		return isWord(s)
	}
	return isWord(table) && isWord(col)
}
