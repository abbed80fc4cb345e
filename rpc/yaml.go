package rpc

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/invopop/jsonschema"
)

// The reference shows schemas as YAML in the layout of the API v1 reference:
// four-space indents, schema keywords in a reading order, properties in
// declaration order.

// node is a JSON value that keeps the order of object keys.
type node struct {
	kind   byte // 'o' object, 'a' array, 's' scalar
	keys   []string
	fields map[string]*node
	items  []*node
	scalar json.RawMessage
}

func parseNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o', fields: map[string]*node{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := kt.(string)
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.fields[key] = v
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &node{kind: 'a'}
			for dec.More() {
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			_, err := dec.Token()
			return n, err
		}
	}
	b, err := json.Marshal(tok)
	return &node{kind: 's', scalar: b}, err
}

// keywordOrder is the order schema keywords are shown in; others follow, sorted.
var keywordOrder = []string{
	"title", "description", "type", "format", "const", "enum", "default",
	"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf",
	"minLength", "maxLength", "pattern",
	"items", "prefixItems", "minItems", "maxItems", "uniqueItems",
	"properties", "patternProperties", "required", "additionalProperties",
	"minProperties", "maxProperties",
	"anyOf", "oneOf", "allOf", "not",
}

var keywordRank = func() map[string]int {
	m := make(map[string]int, len(keywordOrder))
	for i, k := range keywordOrder {
		m[k] = i
	}
	return m
}()

// orderSchema sorts a schema object's keywords for reading and recurses into
// its subschemas.
func orderSchema(n *node) {
	if n == nil || n.kind != 'o' {
		return
	}
	sort.SliceStable(n.keys, func(i, j int) bool {
		ri, iok := keywordRank[n.keys[i]]
		rj, jok := keywordRank[n.keys[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return n.keys[i] < n.keys[j]
	})
	for _, k := range n.keys {
		v := n.fields[k]
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if v.kind == 'o' {
				for _, name := range v.keys {
					orderSchema(v.fields[name])
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems":
			orderSchema(v)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			for _, item := range v.items {
				orderSchema(item)
			}
		}
	}
}

// schemaYAML renders a schema as YAML; empty for a schema that accepts anything.
func schemaYAML(s *jsonschema.Schema) string {
	raw, err := json.Marshal(s)
	if err != nil || string(raw) == "true" || string(raw) == "{}" {
		return ""
	}
	n, err := parseNode(json.NewDecoder(bytes.NewReader(raw)))
	if err != nil {
		return ""
	}
	orderSchema(n)
	var b strings.Builder
	writeYAML(&b, n, 0)
	return strings.TrimSuffix(b.String(), "\n")
}

func writeYAML(b *strings.Builder, n *node, indent int) {
	pad := strings.Repeat(" ", indent)
	switch n.kind {
	case 'o':
		for _, k := range n.keys {
			v := n.fields[k]
			b.WriteString(pad)
			b.WriteString(yamlScalarString(k))
			b.WriteByte(':')
			writeYAMLValue(b, v, indent)
		}
	case 'a':
		for _, item := range n.items {
			b.WriteString(pad)
			b.WriteByte('-')
			if item.kind == 's' {
				b.WriteByte(' ')
				b.WriteString(yamlScalar(item.scalar))
				b.WriteByte('\n')
				continue
			}
			if len(item.keys) == 0 && len(item.items) == 0 {
				b.WriteString(" " + emptyOf(item) + "\n")
				continue
			}
			b.WriteByte('\n')
			writeYAML(b, item, indent+4)
		}
	}
}

func writeYAMLValue(b *strings.Builder, v *node, indent int) {
	switch {
	case v.kind == 's':
		b.WriteByte(' ')
		b.WriteString(yamlScalar(v.scalar))
		b.WriteByte('\n')
	case len(v.keys) == 0 && len(v.items) == 0:
		b.WriteString(" " + emptyOf(v) + "\n")
	default:
		b.WriteByte('\n')
		writeYAML(b, v, indent+4)
	}
}

func emptyOf(n *node) string {
	if n.kind == 'a' {
		return "[]"
	}
	return "{}"
}

var yamlPlain = regexp.MustCompile(`^[A-Za-z_/.][A-Za-z0-9_ ./()+-]*$`)

var yamlReserved = map[string]bool{
	"null": true, "true": true, "false": true, "yes": true, "no": true,
	"on": true, "off": true, "y": true, "n": true, "~": true,
}

// yamlScalar renders a JSON scalar; strings are quoted only when plain text
// would read as something else.
func yamlScalar(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(raw)
	}
	return yamlScalarString(s)
}

func yamlScalarString(s string) string {
	if yamlPlain.MatchString(s) && !yamlReserved[strings.ToLower(s)] && !strings.HasSuffix(s, " ") {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func indentLines(s, pad string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}
