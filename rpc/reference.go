package rpc

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/invopop/jsonschema"
)

// Reference formats, for WriteReference.
const (
	FormatMarkdown = "markdown" // WriteMarkdown's
	FormatOpenAPI  = "openapi"  // OpenAPI's document, ending in a newline
)

// WriteReference writes the API reference in the format named, such as a
// command-line argument: FormatMarkdown or FormatOpenAPI. Any other format
// is an error that names these two.
func (r *Registry) WriteReference(w io.Writer, format string) error {
	switch format {
	case FormatMarkdown:
		return r.WriteMarkdown(w)
	case FormatOpenAPI:
		doc, err := r.OpenAPI()
		if err != nil {
			return err
		}
		_, err = w.Write(append(doc, '\n'))
		return err
	}
	return fmt.Errorf("rpc: reference format %q: want %q or %q", format, FormatMarkdown, FormatOpenAPI)
}

// WriteMarkdown writes the API reference as Markdown: one section per
// Section, in the order of Methods, each method with its call in
// JavaScript and Shell, its permissions and its parameters as YAML schemas.
func (r *Registry) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	slugs := slugger{}
	b.WriteString("# " + r.opts.Title + "\n")
	slugs.slug(r.opts.Title)
	methods := r.Methods()
	for i := 0; i < len(methods); {
		j := i
		for j < len(methods) && methods[j].Section == methods[i].Section {
			j++
		}
		title := r.SectionTitle(methods[i].Section)
		b.WriteString("\n## " + title + "\n\nMethods:\n\n")
		slugs.slug(title)
		// Anchors are taken in document order, so the section heading above
		// claims its slug before the methods below it.
		anchors := make([]string, j-i)
		for k, m := range methods[i:j] {
			anchors[k] = slugs.slug(m.Title)
			fmt.Fprintf(&b, "-   [%s](#%s)\n", m.Title, anchors[k])
		}
		for _, m := range methods[i:j] {
			writeMethodMarkdown(&b, m, r.callURL(m.ID))
		}
		i = j
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// callURL is the URL the Markdown's curl calls a method at: under
// Options.BaseURL and Prefix, or the API v1 reference's placeholder host
// without a BaseURL.
func (r *Registry) callURL(id string) string {
	if r.opts.BaseURL == "" {
		return "https://api.domain.com" + id
	}
	return r.opts.BaseURL + r.opts.Prefix + id
}

func writeMethodMarkdown(b *strings.Builder, m MethodInfo, url string) {
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
	fmt.Fprintf(b, "    \"%s\"\n```\n\n<!-- tabs:end -->\n", url)
	if d := strings.TrimSpace(m.Description); d != "" {
		b.WriteString("\n" + d + "\n")
	}
	tags := make([]string, len(m.Permissions))
	for i, t := range m.Permissions {
		tags[i] = "`" + t + "`"
	}
	b.WriteString("\n**Permissions:** " + strings.Join(tags, ", ") + "\n")
	if m.RequiresAuthorization {
		b.WriteString("\n" + requiresAuthorizationText + "\n")
	}
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
