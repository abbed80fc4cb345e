package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// ReadFieldType is the type of a field's values in conditions.
type ReadFieldType string

// The types a read field's values may have.
const (
	ReadString  ReadFieldType = "string"
	ReadInteger ReadFieldType = "integer" // a JSON integer -> int64
	ReadNumber  ReadFieldType = "number"  // a JSON number -> float64
	ReadBoolean ReadFieldType = "boolean" // a JSON boolean -> bool
	ReadTime    ReadFieldType = "time"    // an RFC 3339 string -> time.Time (UTC); see below
	ReadID      ReadFieldType = "id"      // a string of digits (or a JSON integer) -> int64
)

// A ReadTime column is compared with a bound time.Time. SQLite has no time
// type and compares text, so there the column must hold times as bun writes
// them (UTC, "2006-01-02 15:04:05.999999+00:00"), which it does for
// time.Time fields of bun models.

// Limits of the read options a request may send.
const (
	readDefaultMaxLimit = 100
	readMaxInValues     = 100
	readMaxOffset       = 1_000_000_000
	readMaxStringBytes  = 4096
)

// The operators a field may declare, in the order the reference lists them.
var readOperators = []string{"=", "!=", "<", ">", "<=", ">=", "like", "in", "not in"}

// ReadField declares one field of a read method's options: whether and how it
// can be filtered in where and whether it can be sorted by in order_by.
type ReadField struct {
	// Name is the field's name in options (where and order_by keys).
	Name string
	// Column is the SQL column, possibly qualified ("u.name"); it defaults to Name.
	Column string
	// Columns makes a virtual field searched over several columns: a like
	// condition matches when any of them matches.
	Columns []string
	// Type is the type of the field's values; it defaults to ReadString.
	Type ReadFieldType
	// Conditions are the operators allowed in where: "=", "!=", "<", ">",
	// "<=", ">=", "like", "in", "not in". None: the field is not filterable.
	Conditions []string
	// Sortable allows the field in order_by.
	Sortable bool
	// Required makes where name this field.
	Required bool
}

// ReadSpec declares the options a read method accepts (the seed's apiRead).
// A spec is plain data: build it once, Check it (the registry does) and do not
// change it afterwards, since parsed options keep a pointer to it.
type ReadSpec struct {
	Fields []ReadField
	// MaxLimit is the default and the cap of limit; 0 means 100.
	MaxLimit int
	// DefaultOrder applies when order_by is absent, e.g. id desc; it may be empty.
	DefaultOrder []ReadOrder
}

// ReadOrder is one term of order_by.
type ReadOrder struct {
	Field string
	Desc  bool
}

// ReadCondition is one condition of where. Value is typed per the field's
// type (string, int64, float64, bool, time.Time); for "in" and "not in" it is
// a []any of such values; nil for "=" and "!=" means IS NULL and IS NOT NULL.
type ReadCondition struct {
	Field string
	Op    string
	Value any
}

// ReadOptions are the options of one read call, parsed by ReadSpec.Parse.
// They apply themselves to a bun query.
type ReadOptions struct {
	Where   []ReadCondition
	OrderBy []ReadOrder
	Limit   int
	Offset  int
	// One is set when options.id named one row (the seed's way to read a
	// record): Where then holds id = that value, and ReadPage answers the
	// row as an object.
	One bool

	oneID any
	spec  *ReadSpec // maps fields to columns in Apply
}

func readIsWord(s string) bool {
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

// readIsColumn reports whether s is a plain or table-qualified identifier.
func readIsColumn(s string) bool {
	table, col, ok := strings.Cut(s, ".")
	if !ok {
		return readIsWord(s)
	}
	return readIsWord(table) && readIsWord(col)
}

func readFieldType(f *ReadField) ReadFieldType {
	if f.Type == "" {
		return ReadString
	}
	return f.Type
}

func readColumns(f *ReadField) []string {
	if len(f.Columns) > 0 {
		return f.Columns
	}
	if f.Column != "" {
		return []string{f.Column}
	}
	return []string{f.Name}
}

func (s *ReadSpec) readField(name string) *ReadField {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func (s *ReadSpec) readMaxLimit() int {
	if s.MaxLimit <= 0 {
		return readDefaultMaxLimit
	}
	return s.MaxLimit
}

// Check validates the spec itself: identifiers, known types and operators, no
// duplicate names, like only on string fields, Columns only with like, and a
// default order of sortable fields. The registry calls it at registration.
func (s *ReadSpec) Check() error {
	if s == nil {
		return errors.New("rpc: read spec is nil")
	}
	if s.MaxLimit < 0 {
		return fmt.Errorf("rpc: read spec: MaxLimit %d is negative", s.MaxLimit)
	}
	seen := make(map[string]bool, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		if err := readCheckField(f); err != nil {
			return fmt.Errorf("rpc: read spec: field %q: %w", f.Name, err)
		}
		if seen[f.Name] {
			return fmt.Errorf("rpc: read spec: field %q is declared twice", f.Name)
		}
		seen[f.Name] = true
	}
	ordered := make(map[string]bool, len(s.DefaultOrder))
	for _, o := range s.DefaultOrder {
		f := s.readField(o.Field)
		if f == nil || !f.Sortable {
			return fmt.Errorf("rpc: read spec: default order field %q is not a declared sortable field", o.Field)
		}
		if ordered[o.Field] {
			return fmt.Errorf("rpc: read spec: default order lists %q twice", o.Field)
		}
		ordered[o.Field] = true
	}
	return nil
}

func readCheckField(f *ReadField) error {
	if !readIsWord(f.Name) {
		return errors.New("name must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)")
	}
	switch readFieldType(f) {
	case ReadString, ReadInteger, ReadNumber, ReadBoolean, ReadTime, ReadID:
	default:
		return fmt.Errorf("unknown type %q", f.Type)
	}
	if f.Column != "" && !readIsColumn(f.Column) {
		return fmt.Errorf("column %q is not a plain identifier", f.Column)
	}
	if f.Column != "" && len(f.Columns) > 0 {
		return errors.New("set Column or Columns, not both")
	}
	for _, c := range f.Columns {
		if !readIsColumn(c) {
			return fmt.Errorf("column %q is not a plain identifier", c)
		}
	}
	ops := make(map[string]bool, len(f.Conditions))
	for _, op := range f.Conditions {
		if !slices.Contains(readOperators, op) {
			return fmt.Errorf("unknown operator %q", op)
		}
		if ops[op] {
			return fmt.Errorf("operator %q is declared twice", op)
		}
		ops[op] = true
	}
	if ops["like"] && readFieldType(f) != ReadString {
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

// Defaults returns the options of a call that sends none: no conditions,
// DefaultOrder, Limit = MaxLimit. It does not check Required fields; Parse(nil)
// does, so an omitted parameter should go through Parse.
func (s *ReadSpec) Defaults() ReadOptions {
	return ReadOptions{
		OrderBy: slices.Clone(s.DefaultOrder),
		Limit:   s.readMaxLimit(),
		spec:    s,
	}
}

// Parse parses the options object of a read call. An empty or null raw gives
// Defaults (still refused when a field is required). Every refusal is an
// *Error with CodeInvalidParams whose message names the offending key.
//
// Duplicate keys are refused: JSON parsers disagree on which one wins, so a
// proxy that checked the first could pass a filter the server never applied.
func (s *ReadSpec) Parse(raw json.RawMessage) (ReadOptions, error) {
	o, err := s.readParse(raw)
	if err != nil {
		return ReadOptions{}, err
	}
	return o, nil
}

func (s *ReadSpec) readParse(raw []byte) (ReadOptions, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		o := s.Defaults()
		return o, s.readCheckRequired(&o)
	}
	r := readReader{dec: json.NewDecoder(bytes.NewReader(raw))}
	r.dec.UseNumber()
	root, err := r.value("options", 0)
	if err != nil {
		return ReadOptions{}, err
	}
	if _, terr := r.dec.Token(); terr != io.EOF {
		return ReadOptions{}, InvalidParams("options: unexpected data after the object")
	}
	if root.kind != readObject {
		return ReadOptions{}, InvalidParams("options: expected an object, got %s", root.describe())
	}
	o := ReadOptions{Limit: s.readMaxLimit(), spec: s}
	for i, key := range root.keys {
		v := &root.vals[i]
		var err *Error
		switch key {
		case "where":
			err = s.readParseWhere(&o, v)
		case "order_by":
			err = s.readParseOrder(&o, v)
		case "limit":
			err = s.readParseLimit(&o, v)
		case "offset":
			err = readParseOffset(&o, v)
		case "id":
			if f := s.readField("id"); f != nil {
				err = readParseID(&o, f, v)
				break
			}
			fallthrough
		default:
			err = InvalidParams("options: unknown key %s (allowed: %s)", Quote(key), s.readKeys())
		}
		if err != nil {
			return ReadOptions{}, err
		}
	}
	if len(o.OrderBy) == 0 {
		o.OrderBy = slices.Clone(s.DefaultOrder)
	}
	return o, s.readCheckRequired(&o)
}

// readKeys lists the keys options may have: id only where a field is named id.
func (s *ReadSpec) readKeys() string {
	if s.readField("id") != nil {
		return "id, where, order_by, limit, offset"
	}
	return "where, order_by, limit, offset"
}

// readParseID reads options.id: one value of the id field's type, which
// selects that row alone, whatever the field's declared operators.
func readParseID(o *ReadOptions, f *ReadField, v *readNode) *Error {
	if v.kind == readArray || v.kind == readObject || v.kind == readNull {
		return InvalidParams("options.id: expected one %s value, got %s", readFieldType(f), v.describe())
	}
	val, msg := readTypedValue(f, v)
	if msg != "" {
		return InvalidParams("options.id: expected %s, got %s", msg, v.describe())
	}
	o.One, o.oneID = true, val
	o.Where = append(o.Where, ReadCondition{Field: f.Name, Op: "=", Value: val})
	return nil
}

func (s *ReadSpec) readCheckRequired(o *ReadOptions) *Error {
	for i := range s.Fields {
		f := &s.Fields[i]
		if !f.Required {
			continue
		}
		if !slices.ContainsFunc(o.Where, func(c ReadCondition) bool { return c.Field == f.Name }) {
			return InvalidParams("options.where.%s is required", f.Name)
		}
	}
	return nil
}

func (s *ReadSpec) readFilterable() string {
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

func (s *ReadSpec) readSortable() string {
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

func readAllowedOps(f *ReadField) string {
	quoted := make([]string, len(f.Conditions))
	for i, op := range f.Conditions {
		quoted[i] = strconv.Quote(op)
	}
	return strings.Join(quoted, ", ")
}

func (s *ReadSpec) readParseWhere(o *ReadOptions, v *readNode) *Error {
	if v.kind != readObject {
		return InvalidParams("options.where: expected an object, got %s", v.describe())
	}
	o.Where = make([]ReadCondition, 0, len(v.keys))
	for i, name := range v.keys {
		f := s.readField(name)
		if f == nil || len(f.Conditions) == 0 {
			return InvalidParams("options.where: unknown field %s (filterable: %s)", Quote(name), s.readFilterable())
		}
		c, err := readParseCondition(f, &v.vals[i])
		if err != nil {
			return err
		}
		o.Where = append(o.Where, c)
	}
	return nil
}

func readParseCondition(f *ReadField, v *readNode) (ReadCondition, *Error) {
	c := ReadCondition{Field: f.Name, Op: "="}
	explicit := v.kind == readArray
	val := v
	if explicit {
		if v.count != 2 {
			return c, InvalidParams(`options.where.%s: expected a value or an [operator, value] pair, got an array of %d items`, f.Name, v.count)
		}
		opNode := &v.items[0]
		if opNode.kind != readString {
			return c, InvalidParams("options.where.%s: the operator must be a string, got %s", f.Name, opNode.describe())
		}
		c.Op = opNode.s
		val = &v.items[1]
		if !slices.Contains(readOperators, c.Op) {
			return c, InvalidParams("options.where.%s: unknown operator %s (allowed: %s)", f.Name, Quote(c.Op), readAllowedOps(f))
		}
	}
	if !slices.Contains(f.Conditions, c.Op) {
		if !explicit {
			return c, InvalidParams(`options.where.%s: a bare value means "=", which is not allowed here (allowed: %s); send [operator, value]`, f.Name, readAllowedOps(f))
		}
		return c, InvalidParams("options.where.%s: operator %s is not allowed (allowed: %s)", f.Name, Quote(c.Op), readAllowedOps(f))
	}
	// The operator is named in messages only when the request named it.
	opFor := ""
	if explicit {
		opFor = " for " + strconv.Quote(c.Op)
	}
	switch c.Op {
	case "in", "not in":
		if val.kind != readArray || val.count == 0 || val.count > readMaxInValues {
			return c, InvalidParams("options.where.%s: expected a non-empty array of at most %d values%s, got %s", f.Name, readMaxInValues, opFor, val.describe())
		}
		list := make([]any, val.count)
		for j := range val.items {
			item := &val.items[j]
			if item.kind == readNull {
				return c, InvalidParams(`options.where.%s: null cannot be in the list%s (item %d); use ["=", null]`, f.Name, opFor, j)
			}
			x, what := readTypedValue(f, item)
			if what != "" {
				return c, InvalidParams("options.where.%s: expected %s%s (item %d), got %s", f.Name, what, opFor, j, item.describe())
			}
			list[j] = x
		}
		c.Value = list
	case "like":
		if val.kind != readString {
			return c, InvalidParams("options.where.%s: expected a string%s, got %s", f.Name, opFor, val.describe())
		}
		if what := readCheckString(val.s); what != "" {
			return c, InvalidParams("options.where.%s: expected %s%s", f.Name, what, opFor)
		}
		c.Value = val.s
	default:
		if val.kind == readNull {
			if c.Op != "=" && c.Op != "!=" {
				return c, InvalidParams(`options.where.%s: null is allowed only with "=" and "!=", not %s`, f.Name, Quote(c.Op))
			}
			return c, nil
		}
		x, what := readTypedValue(f, val)
		if what != "" {
			return c, InvalidParams("options.where.%s: expected %s%s, got %s", f.Name, what, opFor, val.describe())
		}
		c.Value = x
	}
	return c, nil
}

// readCheckString says what a string value must be, or "" if it is fine.
// NUL is refused because PostgreSQL text cannot hold it (and bun will not
// format it).
func readCheckString(s string) string {
	if len(s) > readMaxStringBytes {
		return fmt.Sprintf("a string of at most %d bytes", readMaxStringBytes)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "a string without NUL characters"
	}
	return ""
}

// readTypedValue converts a non-null value to the field's type, or says what
// was expected.
func readTypedValue(f *ReadField, v *readNode) (any, string) {
	switch readFieldType(f) {
	case ReadString:
		if v.kind != readString {
			return nil, "a string"
		}
		if what := readCheckString(v.s); what != "" {
			return nil, what
		}
		return v.s, ""
	case ReadInteger:
		const what = "an integer (64-bit)"
		if v.kind != readNumber {
			return nil, what
		}
		n, err := readInt(v.s)
		if err != nil {
			return nil, what
		}
		return n, ""
	case ReadNumber:
		const what = "a finite number"
		if v.kind != readNumber {
			return nil, what
		}
		x, err := strconv.ParseFloat(v.s, 64)
		if err != nil || math.IsInf(x, 0) {
			return nil, what
		}
		return x, ""
	case ReadBoolean:
		if v.kind != readBool {
			return nil, "a boolean"
		}
		return v.b, ""
	case ReadTime:
		const what = "a time (an RFC 3339 string)"
		if v.kind != readString || len(v.s) > 64 {
			return nil, what
		}
		t, err := time.Parse(time.RFC3339Nano, v.s)
		if err != nil {
			return nil, what
		}
		return t.UTC(), ""
	case ReadID:
		const what = "an id (a string of digits)"
		switch v.kind {
		case readString:
			if v.s == "" || strings.TrimLeft(v.s, "0123456789") != "" {
				return nil, what
			}
		case readNumber:
		default:
			return nil, what
		}
		n, err := readInt(v.s)
		if err != nil || n < 0 {
			return nil, what
		}
		return n, ""
	}
	return nil, "a value of a known type"
}

var errReadNotInteger = errors.New("not an integer")

// readInt parses a JSON number written as a plain integer. Exponent and
// fraction forms (1e2, 100.0) are refused: JSON.stringify never writes a safe
// integer that way, and evaluating exponents invites huge allocations.
// A too large value reports strconv.ErrRange.
func readInt(s string) (int64, error) {
	if s == "" || strings.ContainsAny(s, ".eE") {
		return 0, errReadNotInteger
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, strconv.ErrRange
		}
		return 0, errReadNotInteger
	}
	return n, nil
}

func (s *ReadSpec) readParseOrder(o *ReadOptions, v *readNode) *Error {
	var terms []*readNode
	switch {
	case v.kind == readString:
		terms = []*readNode{v}
	case v.kind == readArray && readIsPair(v):
		terms = []*readNode{v}
	case v.kind == readArray:
		if v.count > len(s.Fields) || v.count > len(v.items) {
			return InvalidParams("options.order_by: too many terms (%d); each sortable field may appear once", v.count)
		}
		for i := range v.items {
			terms = append(terms, &v.items[i])
		}
	default:
		return InvalidParams(`options.order_by: expected a field, a [field, "asc"|"desc"] pair or a list of them, got %s`, v.describe())
	}
	o.OrderBy = make([]ReadOrder, 0, len(terms))
	for i, t := range terms {
		var name string
		var desc bool
		switch {
		case t.kind == readString:
			name = t.s
		case t.kind == readArray && readIsPair(t):
			name = t.items[0].s
			desc = strings.EqualFold(t.items[1].s, "desc")
		default:
			return InvalidParams(`options.order_by[%d]: expected a field or a [field, "asc"|"desc"] pair, got %s`, i, t.describe())
		}
		f := s.readField(name)
		if f == nil || !f.Sortable {
			return InvalidParams("options.order_by: unknown or unsortable field %s (sortable: %s)", Quote(name), s.readSortable())
		}
		if slices.ContainsFunc(o.OrderBy, func(x ReadOrder) bool { return x.Field == name }) {
			return InvalidParams("options.order_by: field %s is listed twice", Quote(name))
		}
		o.OrderBy = append(o.OrderBy, ReadOrder{Field: name, Desc: desc})
	}
	return nil
}

// readIsPair reports whether v is [field, "asc"|"desc"] (direction in any case).
func readIsPair(v *readNode) bool {
	if v.count != 2 || v.items[0].kind != readString || v.items[1].kind != readString {
		return false
	}
	d := v.items[1].s
	return strings.EqualFold(d, "asc") || strings.EqualFold(d, "desc")
}

func (s *ReadSpec) readParseLimit(o *ReadOptions, v *readNode) *Error {
	most := s.readMaxLimit()
	if v.kind == readNumber {
		n, err := readInt(v.s)
		switch {
		case err == nil && n >= 1:
			o.Limit = int(min(n, int64(most)))
			return nil
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v.s, "-"):
			o.Limit = most
			return nil
		}
	}
	return InvalidParams("options.limit: expected an integer ≥ 1 (at most %d are returned), got %s", most, v.describe())
}

// readParseOffset clamps the offset rather than refusing it: any page that far
// is empty anyway.
func readParseOffset(o *ReadOptions, v *readNode) *Error {
	if v.kind == readNumber {
		n, err := readInt(v.s)
		switch {
		case err == nil && n >= 0:
			o.Offset = int(min(n, readMaxOffset))
			return nil
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v.s, "-"):
			o.Offset = readMaxOffset
			return nil
		}
	}
	return InvalidParams("options.offset: expected an integer ≥ 0, got %s", v.describe())
}

// Value returns the value of the first "=" condition on field, e.g. the
// method_id a call-log read requires. A nil value (IS NULL) counts.
func (o ReadOptions) Value(field string) (any, bool) {
	for _, c := range o.Where {
		if c.Field == field && c.Op == "=" {
			return c.Value, true
		}
	}
	return nil, false
}

// Apply adds the options' conditions, order, limit and offset to q.
func (o ReadOptions) Apply(q *bun.SelectQuery) *bun.SelectQuery {
	q = o.ApplyWhere(q)
	sqlite := q.Dialect().Name() == dialect.SQLite
	for _, ord := range o.OrderBy {
		f := o.readSpecField(ord.Field)
		col := bun.Ident(readColumns(f)[0])
		// Nulls sort as PostgreSQL sorts them (last ascending), so that both
		// databases give the same pages.
		switch {
		case ord.Desc && sqlite:
			q = q.OrderExpr("? DESC NULLS FIRST", col)
		case ord.Desc:
			q = q.OrderExpr("? DESC", col)
		case sqlite:
			q = q.OrderExpr("? ASC NULLS LAST", col)
		default:
			q = q.OrderExpr("? ASC", col)
		}
	}
	if o.Limit > 0 {
		q = q.Limit(int64(o.Limit))
	}
	if o.Offset > 0 {
		q = q.Offset(int64(o.Offset))
	}
	return q
}

// ApplyWhere adds only the options' conditions to q (for counts and custom
// queries), as one parenthesized group joined to q's other conditions by AND.
//
// "!=" and "not in" also match rows whose column is NULL, as a client
// filtering on "not this value" expects; the other comparisons never match NULL.
func (o ReadOptions) ApplyWhere(q *bun.SelectQuery) *bun.SelectQuery {
	if len(o.Where) == 0 {
		return q
	}
	likeOp := "LIKE"
	if q.Dialect().Name() == dialect.PG {
		likeOp = "ILIKE"
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, c := range o.Where {
			q = o.readWhere(q, c, likeOp)
		}
		return q
	})
}

func (o ReadOptions) readSpecField(name string) *ReadField {
	if o.spec == nil {
		panic("rpc: ReadOptions with conditions or order were not made by ReadSpec.Parse")
	}
	f := o.spec.readField(name)
	if f == nil {
		panic(fmt.Sprintf("rpc: ReadOptions name field %q that their spec does not declare", name))
	}
	return f
}

func (o ReadOptions) readWhere(q *bun.SelectQuery, c ReadCondition, likeOp string) *bun.SelectQuery {
	f := o.readSpecField(c.Field)
	cols := readColumns(f)
	col := bun.Ident(cols[0])
	switch c.Op {
	case "=":
		if c.Value == nil {
			return q.Where("? IS NULL", col)
		}
		return q.Where("? = ?", col, c.Value)
	case "!=":
		if c.Value == nil {
			return q.Where("? IS NOT NULL", col)
		}
		return q.Where("(? IS NULL OR ? <> ?)", col, col, c.Value)
	case "<", ">", "<=", ">=":
		return q.Where("? "+c.Op+" ?", col, c.Value)
	case "in":
		return q.Where("? IN (?)", col, bun.List(c.Value))
	case "not in":
		return q.Where("(? IS NULL OR ? NOT IN (?))", col, col, bun.List(c.Value))
	case "like":
		// SQLite's LIKE folds case for ASCII letters only (no ICU in the
		// pure-Go build); PostgreSQL's ILIKE folds all of Unicode.
		s, _ := c.Value.(string)
		pattern := "%" + readEscapeLike(s) + "%"
		var sql strings.Builder
		args := make([]any, 0, 2*len(cols))
		sql.WriteByte('(')
		for i, name := range cols {
			if i > 0 {
				sql.WriteString(" OR ")
			}
			sql.WriteString("? " + likeOp + ` ? ESCAPE '\'`)
			args = append(args, bun.Ident(name), pattern)
		}
		sql.WriteByte(')')
		return q.Where(sql.String(), args...)
	}
	panic(fmt.Sprintf("rpc: ReadOptions hold unknown operator %q", c.Op))
}

// readEscapeLike makes %, _ and the escape character \ match themselves.
func readEscapeLike(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%', '_', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Schema describes the options object as JSON Schema, for the machine-readable
// reference.
func (s *ReadSpec) Schema() *jsonschema.Schema {
	where := &jsonschema.Schema{
		Type:                 "object",
		Properties:           jsonschema.NewProperties(),
		AdditionalProperties: jsonschema.FalseSchema,
	}
	var sortable []any
	for i := range s.Fields {
		f := &s.Fields[i]
		if f.Sortable {
			sortable = append(sortable, f.Name)
		}
		if len(f.Conditions) == 0 {
			continue
		}
		if f.Required {
			where.Required = append(where.Required, f.Name)
		}
		where.Properties.Set(f.Name, readFieldSchema(f))
	}

	props := jsonschema.NewProperties()
	props.Set("where", where)
	props.Set("order_by", readOrderSchema(sortable))
	props.Set("limit", &jsonschema.Schema{
		Type:        "integer",
		Minimum:     "1",
		Default:     s.readMaxLimit(),
		Description: fmt.Sprintf("at most %d rows are returned", s.readMaxLimit()),
	})
	props.Set("offset", &jsonschema.Schema{Type: "integer", Minimum: "0", Default: 0})
	out := &jsonschema.Schema{
		Type:                 "object",
		Properties:           props,
		AdditionalProperties: jsonschema.FalseSchema,
	}
	if len(where.Required) > 0 {
		out.Required = []string{"where"}
	}
	return out
}

func readUint(n uint64) *uint64 { return &n }

func readValueSchema(t ReadFieldType) *jsonschema.Schema {
	switch t {
	case ReadInteger:
		return &jsonschema.Schema{Type: "integer"}
	case ReadNumber:
		return &jsonschema.Schema{Type: "number"}
	case ReadBoolean:
		return &jsonschema.Schema{Type: "boolean"}
	case ReadTime:
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case ReadID:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Pattern: "^[0-9]{1,19}$"},
			{Type: "integer", Minimum: "0"},
		}}
	}
	return &jsonschema.Schema{Type: "string", MaxLength: readUint(readMaxStringBytes)}
}

func readFieldSchema(f *ReadField) *jsonschema.Schema {
	value := readValueSchema(readFieldType(f))
	nullable := &jsonschema.Schema{AnyOf: []*jsonschema.Schema{value, {Type: "null"}}}
	var alts []*jsonschema.Schema
	if slices.Contains(f.Conditions, "=") {
		alts = append(alts, nullable)
	}
	for _, op := range f.Conditions {
		operand := value
		switch op {
		case "=", "!=":
			operand = nullable
		case "in", "not in":
			operand = &jsonschema.Schema{
				Type:     "array",
				Items:    value,
				MinItems: readUint(1),
				MaxItems: readUint(readMaxInValues),
			}
		}
		alts = append(alts, &jsonschema.Schema{
			Type:        "array",
			PrefixItems: []*jsonschema.Schema{{Const: op}, operand},
			Items:       jsonschema.FalseSchema,
			MinItems:    readUint(2),
		})
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &jsonschema.Schema{AnyOf: alts}
}

func readOrderSchema(sortable []any) *jsonschema.Schema {
	if len(sortable) == 0 {
		return &jsonschema.Schema{Type: "array", MaxItems: readUint(0)}
	}
	name := &jsonschema.Schema{Type: "string", Enum: sortable}
	pair := &jsonschema.Schema{
		Type: "array",
		PrefixItems: []*jsonschema.Schema{
			name,
			{Type: "string", Pattern: "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$"},
		},
		Items:    jsonschema.FalseSchema,
		MinItems: readUint(2),
	}
	term := &jsonschema.Schema{AnyOf: []*jsonschema.Schema{name, pair}}
	list := &jsonschema.Schema{Type: "array", Items: term, MaxItems: readUint(uint64(len(sortable)))}
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{name, pair, list}}
}

// Reference returns the apiRead YAML block of the reference in the seed's
// layout (4-space indent, one line per key, each line ending in a newline).
// Types are the JSON types a client sends; they are shown for filterable
// fields only.
func (s *ReadSpec) Reference() string {
	var b strings.Builder
	b.WriteString("apiRead:\n")
	for i := range s.Fields {
		f := &s.Fields[i]
		if len(f.Conditions) == 0 && !f.Sortable && !f.Required {
			b.WriteString("    " + f.Name + ": {}\n")
			continue
		}
		b.WriteString("    " + f.Name + ":\n")
		if len(f.Conditions) > 0 {
			b.WriteString("        type: " + readJSONType(readFieldType(f)) + "\n")
			b.WriteString("        conditions:\n")
			for _, op := range f.Conditions {
				b.WriteString("            - " + readYAMLOp(op) + "\n")
			}
		}
		if f.Sortable {
			b.WriteString("        sortable: true\n")
		}
		if f.Required {
			b.WriteString("        required: true\n")
		}
	}
	return b.String()
}

func readJSONType(t ReadFieldType) string {
	switch t {
	case ReadInteger, ReadNumber, ReadBoolean:
		return string(t)
	}
	return "string" // strings, times and ids
}

// readYAMLOp quotes the operators that are not plain words, as the seed does
// ("=" and the comparisons would otherwise read as YAML syntax).
func readYAMLOp(op string) string {
	for _, r := range op {
		if (r < 'a' || r > 'z') && r != ' ' {
			return strconv.Quote(op)
		}
	}
	return op
}

// readPathKey shortens a key from the request for a path in a message.
func readPathKey(key string) string {
	if len(key) <= 40 && readIsWord(key) {
		return key
	}
	return "[" + Quote(key) + "]"
}

// A readNode is a decoded JSON value. Arrays keep at most readMaxItems items
// (count has the true length) and nesting stops at readMaxDepth: nothing the
// options accept is larger, so refusals need no more.
type readNode struct {
	kind  readKind
	b     bool
	s     string // a string, or a number's text
	items []readNode
	count int
	keys  []string
	vals  []readNode
}

type readKind uint8

const (
	readNull readKind = iota
	readBool
	readNumber
	readString
	readArray
	readObject
)

const (
	readMaxDepth = 4 // options{where{field[op, [values]]}}
	readMaxItems = readMaxInValues + 1
)

func (v *readNode) describe() string {
	switch v.kind {
	case readNull:
		return "null"
	case readBool:
		return strconv.FormatBool(v.b)
	case readNumber:
		if len(v.s) > 40 {
			return v.s[:40] + "…"
		}
		return v.s
	case readString:
		return Quote(v.s)
	case readArray:
		if v.count == 0 {
			return "an empty array"
		}
		return "an array"
	}
	return "an object"
}

type readReader struct {
	dec *json.Decoder
}

func (r *readReader) value(path string, depth int) (readNode, *Error) {
	tok, err := r.dec.Token()
	if err != nil {
		return readNode{}, readSyntaxError(err)
	}
	switch t := tok.(type) {
	case nil:
		return readNode{kind: readNull}, nil
	case bool:
		return readNode{kind: readBool, b: t}, nil
	case json.Number:
		return readNode{kind: readNumber, s: string(t)}, nil
	case string:
		return readNode{kind: readString, s: t}, nil
	case json.Delim:
		if depth >= readMaxDepth {
			kind := readObject
			if t == '[' {
				kind = readArray
			}
			// count 1 so that it does not read as an empty array.
			return readNode{kind: kind, count: 1}, r.skip()
		}
		if t == '[' {
			return r.array(path, depth)
		}
		return r.object(path, depth)
	}
	return readNode{}, InvalidParams("%s: unexpected JSON token", path)
}

func (r *readReader) array(path string, depth int) (readNode, *Error) {
	n := readNode{kind: readArray}
	for r.dec.More() {
		item, err := r.value(path, depth+1)
		if err != nil {
			return n, err
		}
		if n.count < readMaxItems {
			n.items = append(n.items, item)
		}
		n.count++
	}
	if _, err := r.dec.Token(); err != nil {
		return n, readSyntaxError(err)
	}
	return n, nil
}

func (r *readReader) object(path string, depth int) (readNode, *Error) {
	n := readNode{kind: readObject}
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return n, readSyntaxError(err)
		}
		key, _ := tok.(string)
		if slices.Contains(n.keys, key) {
			return n, InvalidParams("%s: duplicate key %s", path, Quote(key))
		}
		if len(n.keys) >= readMaxItems {
			return n, InvalidParams("%s: too many keys", path)
		}
		val, verr := r.value(path+"."+readPathKey(key), depth+1)
		if verr != nil {
			return n, verr
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, val)
	}
	if _, err := r.dec.Token(); err != nil {
		return n, readSyntaxError(err)
	}
	return n, nil
}

// skip consumes the rest of a value whose opening delimiter was read.
func (r *readReader) skip() *Error {
	for depth := 1; depth > 0; {
		tok, err := r.dec.Token()
		if err != nil {
			return readSyntaxError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func readSyntaxError(err error) *Error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return InvalidParams("options: not valid JSON: %v", err)
}
