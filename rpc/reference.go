package rpc

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
)

// WriteMarkdown writes the API reference as Markdown: a section per module,
// each method with its call in JavaScript and Shell, its permissions and its
// parameters as YAML schemas.
func (r *Registry) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	slugs := slugger{}
	b.WriteString("# " + r.opts.Title + "\n")
	slugs.slug(r.opts.Title)
	methods := r.Methods()
	for i := 0; i < len(methods); {
		j := i
		for j < len(methods) && methods[j].Module == methods[i].Module {
			j++
		}
		title := r.ModuleTitle(methods[i].Module)
		b.WriteString("\n## " + title + "\n\nMethods:\n\n")
		slugs.slug(title)
		// Anchors are taken in document order, so the module heading above
		// claims its slug before the methods below it.
		anchors := make([]string, j-i)
		for k, m := range methods[i:j] {
			anchors[k] = slugs.slug(m.Title)
			fmt.Fprintf(&b, "-   [%s](#%s)\n", m.Title, anchors[k])
		}
		for _, m := range methods[i:j] {
			writeMethodMarkdown(&b, m)
		}
		i = j
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMethodMarkdown(b *strings.Builder, m MethodInfo) {
	b.WriteString("\n### " + m.Title + "\n\n<!-- tabs:start -->\n\n#### **JavaScript**\n\n<!-- prettier-ignore -->\n```javascript\n")
	fmt.Fprintf(b, "const res = await api.call( %q", m.ID)
	for _, p := range m.Params {
		if p.Optional {
			b.WriteString(", [" + p.Name + "]")
		} else {
			b.WriteString(", " + p.Name)
		}
	}
	b.WriteString(" );\n```\n\n#### **Shell**\n\n<!-- prettier-ignore -->\n```shell\ncurl \\\n    -X POST \\\n")
	b.WriteString("    -H \"Authorization: Bearer <YOUR-API-TOKEN>\" \\\n")
	if m.Upload {
		b.WriteString("    -F \"file=@<FILE>\" \\\n    -F 'params=[...PARAMETERS]' \\\n")
	} else {
		b.WriteString("    -H \"Content-Type: application/json\" \\\n    -d '[...PARAMETERS]' \\\n")
	}
	fmt.Fprintf(b, "    \"https://api.domain.com%s\"\n```\n\n<!-- tabs:end -->\n", m.ID)
	if d := strings.TrimSpace(m.Description); d != "" {
		b.WriteString("\n" + d + "\n")
	}
	tags := make([]string, len(m.Permissions))
	for i, t := range m.Permissions {
		tags[i] = "`" + t + "`"
	}
	b.WriteString("\n**Permissions:** " + strings.Join(tags, ", ") + "\n")
	if len(m.Params) == 0 {
		return
	}
	b.WriteString("\n**Parameters:**\n")
	for _, p := range m.Params {
		name := p.Name
		if p.Optional {
			name += "?"
		}
		fmt.Fprintf(b, "\n-   **`%s`** %s", name, typeLabel(p))
		if p.Description != "" {
			b.WriteString(" " + p.Description)
		}
		b.WriteString("\n")
		var yaml string
		if p.Read != nil {
			yaml = strings.TrimSuffix(p.Read.Reference(), "\n")
		} else {
			yaml = schemaYAML(p.Schema)
		}
		if yaml != "" {
			b.WriteString("\n    <!-- prettier-ignore -->\n    ```yaml\n" + indentLines(yaml, "    ") + "\n    ```\n")
		}
	}
}

// typeLabel names a parameter's type as the reference shows it: <string\>,
// <Object\>, <undefined\> for read options and unions.
func typeLabel(p ParamInfo) string {
	if p.Read != nil || p.Schema == nil {
		return `<undefined\>`
	}
	var labels []string
	label := func(t string) string {
		switch t {
		case "object":
			return `<Object\>`
		case "array":
			return `<Array\>`
		}
		return `<` + t + `\>`
	}
	add := func(s *jsonschema.Schema) bool {
		if s.Type != "" {
			labels = append(labels, label(s.Type))
			return true
		}
		// A list of types ({"type": ["string", "object"]}) lives in Extras.
		if types, ok := s.Extras["type"].([]string); ok && len(types) > 0 {
			for _, t := range types {
				labels = append(labels, label(t))
			}
			return true
		}
		return false
	}
	if !add(p.Schema) {
		alts := p.Schema.AnyOf
		if alts == nil {
			alts = p.Schema.OneOf
		}
		for _, alt := range alts {
			if alt.Type == "null" {
				continue
			}
			if !add(alt) {
				return `<undefined\>`
			}
		}
	}
	if len(labels) == 0 || len(p.Schema.AnyOf) > 0 && len(labels) < len(p.Schema.AnyOf) {
		return `<undefined\>`
	}
	return strings.Join(labels, " | ")
}

// slugger makes heading anchors as Markdown renderers do: lower case,
// punctuation dropped, spaces to dashes, repeats numbered.
type slugger map[string]int

func (s slugger) slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	base := b.String()
	n := s[base]
	s[base] = n + 1
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, n)
}

// OpenAPI returns the reference as an OpenAPI 3.1 document: a POST operation
// per method whose request body is the array of positional parameters.
func (r *Registry) OpenAPI() ([]byte, error) {
	paths := map[string]any{}
	for _, m := range r.Methods() {
		prefix := make([]any, len(m.Params))
		required := 0
		for i, p := range m.Params {
			var s *jsonschema.Schema
			if p.Read != nil {
				s = p.Read.Schema()
			} else {
				s = cloneSchema(p.Schema)
			}
			s.Title = p.Name
			if p.Description != "" {
				s.Description = p.Description
			}
			prefix[i] = s
			if !p.Optional {
				required = i + 1
			}
		}
		body := map[string]any{"type": "array", "minItems": required, "maxItems": len(m.Params)}
		if len(prefix) > 0 {
			body["prefixItems"] = prefix
		}
		content := map[string]any{"application/json": map[string]any{"schema": body}}
		if m.Upload {
			content["multipart/form-data"] = map[string]any{"schema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"file":   map[string]any{"type": "string", "contentMediaType": "application/octet-stream"},
					"params": body,
				},
				"required": []string{"file"},
			}}
		}
		op := map[string]any{
			"operationId":   m.ID,
			"summary":       m.Title,
			"tags":          []string{r.ModuleTitle(m.Module)},
			"x-permissions": m.Permissions,
			"requestBody":   map[string]any{"required": required > 0, "content": content},
			"responses": map[string]any{
				"200":     map[string]any{"description": "Success", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Success"}}}},
				"default": map[string]any{"description": "Failure", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Failure"}}}},
			},
		}
		if m.Description != "" {
			op["description"] = m.Description
		}
		if needsToken(m.Permissions) {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		} else {
			op["security"] = []any{map[string]any{}, map[string]any{"bearer": []string{}}}
		}
		paths[m.ID] = map[string]any{"post": op}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": r.opts.Title, "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas":         envelopeSchemas,
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func needsToken(tags []string) bool {
	for _, t := range tags {
		if t == auth.Anyone || t == auth.Guest {
			return false
		}
	}
	return true
}

func cloneSchema(s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil {
		return &jsonschema.Schema{}
	}
	c := *s
	return &c
}

var envelopeSchemas = map[string]any{
	"Success": map[string]any{
		"type":     "object",
		"required": []string{"jsonrpc", "result"},
		"properties": map[string]any{
			"jsonrpc": map[string]any{"const": "2.0"},
			"id":      map[string]any{},
			"result": map[string]any{
				"type":     "object",
				"required": []string{"status", "status_text", "exception", "meta"},
				"properties": map[string]any{
					"status":      map[string]any{"type": "integer"},
					"status_text": map[string]any{"type": "string"},
					"exception":   map[string]any{"const": false},
					"data":        map[string]any{},
					"meta":        map[string]any{"type": "object"},
				},
			},
		},
	},
	"Failure": map[string]any{
		"type":     "object",
		"required": []string{"jsonrpc", "error"},
		"properties": map[string]any{
			"jsonrpc": map[string]any{"const": "2.0"},
			"id":      map[string]any{},
			"error": map[string]any{
				"type":     "object",
				"required": []string{"code", "message", "data"},
				"properties": map[string]any{
					"code":    map[string]any{"type": "integer"},
					"message": map[string]any{"type": "string"},
					"data": map[string]any{
						"type":     "object",
						"required": []string{"exception", "meta"},
						"properties": map[string]any{
							"exception": map[string]any{"type": "boolean"},
							"meta":      map[string]any{"type": "object"},
						},
					},
				},
			},
		},
	},
}
