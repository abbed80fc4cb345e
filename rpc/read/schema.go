package read

import (
	"fmt"
	"slices"

	"github.com/invopop/jsonschema"
)

// Schema describes the options object as JSON Schema, for the machine-readable
// reference. Where a field is named id, the options may name one row by it
// (options.id), with one value of that field's type.
func (s *Spec) Schema() *jsonschema.Schema {
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
		where.Properties.Set(f.Name, fieldSchema(f))
	}

	props := jsonschema.NewProperties()
	if f := s.Field("id"); f != nil {
		id := valueSchema(f.valueType())
		id.Description = "names the one row to answer, by itself"
		props.Set("id", id)
	}
	props.Set("where", where)
	props.Set("order_by", orderSchema(sortable))
	props.Set("limit", &jsonschema.Schema{
		Type:        "integer",
		Minimum:     "1",
		Default:     s.maxLimit(),
		Description: fmt.Sprintf("at most %d rows are returned", s.maxLimit()),
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

func uintPtr(n uint64) *uint64 { return &n }

func valueSchema(t Type) *jsonschema.Schema {
	switch t {
	case Integer:
		return &jsonschema.Schema{Type: "integer"}
	case Number:
		return &jsonschema.Schema{Type: "number"}
	case Boolean:
		return &jsonschema.Schema{Type: "boolean"}
	case Time:
		return &jsonschema.Schema{Type: "string", Format: "date-time"}
	case ID:
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string", Pattern: "^[0-9]{1,19}$"},
			{Type: "integer", Minimum: "0"},
		}}
	}
	return &jsonschema.Schema{Type: "string", MaxLength: uintPtr(maxStringBytes)}
}

func fieldSchema(f *Field) *jsonschema.Schema {
	value := valueSchema(f.valueType())
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
				MinItems: uintPtr(1),
				MaxItems: uintPtr(maxInValues),
			}
		}
		alts = append(alts, &jsonschema.Schema{
			Type:        "array",
			PrefixItems: []*jsonschema.Schema{{Const: op}, operand},
			Items:       jsonschema.FalseSchema,
			MinItems:    uintPtr(2),
		})
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return &jsonschema.Schema{AnyOf: alts}
}

func orderSchema(sortable []any) *jsonschema.Schema {
	if len(sortable) == 0 {
		return &jsonschema.Schema{Type: "array", MaxItems: uintPtr(0)}
	}
	name := &jsonschema.Schema{Type: "string", Enum: sortable}
	pair := &jsonschema.Schema{
		Type: "array",
		PrefixItems: []*jsonschema.Schema{
			name,
			{Type: "string", Pattern: "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$"},
		},
		Items:    jsonschema.FalseSchema,
		MinItems: uintPtr(2),
	}
	term := &jsonschema.Schema{AnyOf: []*jsonschema.Schema{name, pair}}
	list := &jsonschema.Schema{Type: "array", Items: term, MaxItems: uintPtr(uint64(len(sortable)))}
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{name, pair, list}}
}
