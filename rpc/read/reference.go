package read

import (
	"strconv"
	"strings"
)

// Reference returns the apiRead YAML block of the Markdown reference: a
// 4-space indent, one line per key, each line ending in a newline.
// Types are the JSON types a client sends; they are shown for filterable
// fields only.
func (s *Spec) Reference() string {
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
			b.WriteString("        type: " + jsonType(f.valueType()) + "\n")
			b.WriteString("        conditions:\n")
			for _, op := range f.Conditions {
				b.WriteString("            - " + yamlOp(op) + "\n")
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

func jsonType(t Type) string {
	switch t {
	case Integer, Number, Boolean:
		return string(t)
	}
	return "string" // strings, times and ids
}

// yamlOp quotes the operators that are not plain words: "=" and the
// comparisons would otherwise read as YAML syntax.
func yamlOp(op string) string {
	for _, r := range op {
		if (r < 'a' || r > 'z') && r != ' ' {
			return strconv.Quote(op)
		}
	}
	return op
}
