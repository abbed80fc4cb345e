package read

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/authrpc/authrpc/internal/quote"
)

// Parse parses the options object of a call. An empty or null raw gives
// Defaults (still refused when a field is required). Every refusal is an
// *Error whose message names the offending key.
//
// Duplicate keys are refused: JSON parsers disagree on which one wins, so a
// proxy that checked the first could pass a filter the server never applied.
func (s *Spec) Parse(raw json.RawMessage) (Options, error) {
	o, err := s.parse(raw)
	if err != nil {
		return Options{}, err
	}
	return o, nil
}

func (s *Spec) parse(raw []byte) (Options, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		o := s.Defaults()
		return o, s.checkRequired(&o)
	}
	r := reader{dec: json.NewDecoder(bytes.NewReader(raw))}
	r.dec.UseNumber()
	root, err := r.value("options", 0)
	if err != nil {
		return Options{}, err
	}
	if _, terr := r.dec.Token(); terr != io.EOF {
		return Options{}, errorf("options: unexpected data after the object")
	}
	if root.kind != kindObject {
		return Options{}, errorf("options: expected an object, got %s", root.describe())
	}
	o := Options{Limit: s.maxLimit(), spec: s}
	for i, key := range root.keys {
		v := &root.vals[i]
		var err *Error
		switch key {
		case "where":
			err = s.parseWhere(&o, v)
		case "order_by":
			err = s.parseOrder(&o, v)
		case "limit":
			err = s.parseLimit(&o, v)
		case "offset":
			err = parseOffset(&o, v)
		case "id":
			if f := s.Field("id"); f != nil {
				err = parseID(&o, f, v)
				break
			}
			fallthrough
		default:
			err = errorf("options: unknown key %s (allowed: %s)", quote.Short(key), s.allowedKeys())
		}
		if err != nil {
			return Options{}, err
		}
	}
	if o.One && countField(o.Where, "id") > 1 {
		return Options{}, errorf("options.id: where.id names a row too; send one of them")
	}
	if len(o.OrderBy) == 0 {
		o.OrderBy = slices.Clone(s.DefaultOrder)
	}
	return o, s.checkRequired(&o)
}

// allowedKeys lists the keys options may have: id only where a field is named id.
func (s *Spec) allowedKeys() string {
	if s.Field("id") != nil {
		return "id, where, order_by, limit, offset"
	}
	return "where, order_by, limit, offset"
}

// parseID reads options.id: one value of the id field's type, which
// selects that row alone, whatever the field's declared operators.
func parseID(o *Options, f *Field, v *node) *Error {
	if v.kind == kindArray || v.kind == kindObject || v.kind == kindNull {
		return errorf("options.id: expected one %s value, got %s", f.valueType(), v.describe())
	}
	val, msg := typedValue(f, v)
	if msg != "" {
		return errorf("options.id: expected %s, got %s", msg, v.describe())
	}
	o.One, o.ID = true, val
	o.Where = append(o.Where, Condition{Field: f.Name, Op: "=", Value: val})
	return nil
}

func countField(where []Condition, field string) int {
	n := 0
	for _, c := range where {
		if c.Field == field {
			n++
		}
	}
	return n
}

// checkRequired refuses options whose where lacks a Required field.
func (s *Spec) checkRequired(o *Options) *Error {
	for i := range s.Fields {
		f := &s.Fields[i]
		if !f.Required {
			continue
		}
		if !slices.ContainsFunc(o.Where, func(c Condition) bool { return c.Field == f.Name }) {
			return errorf("options.where.%s is required", f.Name)
		}
	}
	return nil
}

// parseLimit clamps limit to MaxLimit: asking for more is not an error.
func (s *Spec) parseLimit(o *Options, v *node) *Error {
	most := s.maxLimit()
	if v.kind == kindNumber {
		n, err := parseInt(v.s)
		switch {
		case err == nil && n >= 1:
			o.Limit = int(min(n, int64(most)))
			return nil
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v.s, "-"):
			o.Limit = most
			return nil
		}
	}
	return errorf("options.limit: expected an integer ≥ 1 (at most %d are returned), got %s", most, v.describe())
}

// parseOffset clamps the offset rather than refusing it: any page that far
// is empty anyway.
func parseOffset(o *Options, v *node) *Error {
	if v.kind == kindNumber {
		n, err := parseInt(v.s)
		switch {
		case err == nil && n >= 0:
			o.Offset = int(min(n, maxOffset))
			return nil
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v.s, "-"):
			o.Offset = maxOffset
			return nil
		}
	}
	return errorf("options.offset: expected an integer ≥ 0, got %s", v.describe())
}
