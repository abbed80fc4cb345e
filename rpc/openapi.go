package rpc

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
)

// OpenAPI returns the reference as an OpenAPI 3.1 document that code
// generators accept: a POST operation per method, at the method id below
// the server (Options.BaseURL and Options.Prefix), whose request body is
// the array of positional parameters and whose answers are the success
// envelope, with data typed from the handler's return type (Method.DataType
// for a Result; a read method that takes options.id may answer one row of
// it), and the error envelope for each status the method can answer.
// Operation ids are the method ids in camel case ("/v1/admin/users/read" is
// v1AdminUsersRead).
func (r *Registry) OpenAPI() ([]byte, error) {
	paths := map[string]any{}
	tags := []any{}
	seenTag := map[string]bool{}
	ids := map[string]int{}
	for _, m := range r.Methods() {
		op, err := r.operation(m)
		if err != nil {
			return nil, fmt.Errorf("rpc: openapi: %s: %w", m.ID, err)
		}
		op["operationId"] = uniqueID(ids, operationID(m.ID))
		paths[m.ID] = map[string]any{"post": op}
		if tag := r.SectionTitle(m.Section); !seenTag[tag] {
			seenTag[tag] = true
			tags = append(tags, map[string]any{"name": tag})
		}
	}
	server := r.opts.BaseURL + r.opts.Prefix
	if server == "" {
		server = "/"
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   r.opts.Title,
			"version": r.opts.Version,
			"description": "Every method is a POST of a JSON array of its positional parameters. " +
				"A success is `{\"jsonrpc\":\"2.0\",\"result\":{\"status\":200,…,\"data\":…}}`, a failure " +
				"`{\"jsonrpc\":\"2.0\",\"error\":{\"code\":…,\"message\":…}}`; the HTTP status mirrors the code.",
		},
		"servers": []any{map[string]any{"url": server}},
		"tags":    tags,
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "A session or API token, or a token of the host's own: `Authorization: Bearer <token>`.",
			}},
			"schemas":   map[string]any{"Failure": failureSchema},
			"responses": failureResponses,
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// operation describes one method as an OpenAPI operation, without its id.
func (r *Registry) operation(m MethodInfo) (map[string]any, error) {
	prefix := make([]any, len(m.Params))
	required := 0
	byID := false // options.id may name one row, answered by itself
	for i, p := range m.Params {
		var s *jsonschema.Schema
		if p.Read != nil {
			s = p.Read.Schema()
			byID = byID || p.Read.Field("id") != nil
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
	result := m.Result
	if byID && result != nil && result.Items != nil {
		result = &jsonschema.Schema{AnyOf: []*jsonschema.Schema{result, result.Items}}
	}
	data, err := dataSchema(result)
	if err != nil {
		return nil, err
	}
	op := map[string]any{
		"summary":       m.Title,
		"description":   operationDescription(m),
		"tags":          []string{r.SectionTitle(m.Section)},
		"x-permissions": m.Permissions,
		"requestBody":   map[string]any{"required": required > 0, "content": content},
		"responses":     responses(m, data),
	}
	if needsToken(m.Permissions) {
		op["security"] = []any{map[string]any{"bearer": []string{}}}
	} else {
		op["security"] = []any{map[string]any{}, map[string]any{"bearer": []string{}}}
	}
	return op, nil
}

// operationDescription is the method's description and the permissions it asks for.
func operationDescription(m MethodInfo) string {
	tags := make([]string, len(m.Permissions))
	for i, t := range m.Permissions {
		tags[i] = "`" + t + "`"
	}
	perms := "Permissions: " + strings.Join(tags, ", ") + "."
	if m.RequiresAuthorization {
		perms += "\n\n" + requiresAuthorizationText
	}
	if d := strings.TrimSpace(m.Description); d != "" {
		return d + "\n\n" + perms
	}
	return perms
}

// responses lists what a method can answer: its success envelope, and a
// failure for each status the transport or the handler may send.
func responses(m MethodInfo, data any) map[string]any {
	ref := func(name string) any { return map[string]any{"$ref": "#/components/responses/" + name} }
	out := map[string]any{
		"200": map[string]any{
			"description": "Success: status 200, or 204 when nothing changed.",
			"content":     map[string]any{"application/json": map[string]any{"schema": successSchema(data)}},
		},
		"400":     ref("BadRequest"),
		"404":     ref("NotFound"),
		"413":     ref("TooLarge"),
		"415":     ref("UnsupportedMediaType"),
		"500":     ref("Internal"),
		"default": ref("Failure"),
	}
	if !allows(m.Permissions, auth.Anyone) {
		out["401"] = ref("Unauthorized")
	}
	if m.RateLimited {
		out["429"] = ref("TooManyRequests")
	}
	if m.RequiresAuthorization {
		out["403"] = map[string]any{
			"description": "Forbidden: the session was not authorized recently (`error.data.meta.authorization_required` is true): call `/v1/session/authorize`, then again.",
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Failure"}}},
		}
	}
	return out
}

func allows(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

func needsToken(tags []string) bool {
	return !allows(tags, auth.Anyone) && !allows(tags, auth.Guest)
}

// operationID turns a method id into an identifier generators accept:
// "/v1/admin/api-call-log/read-log" is v1AdminApiCallLogReadLog.
func operationID(id string) string {
	var b strings.Builder
	upper := false
	for _, c := range id {
		switch {
		case c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)):
			if upper && b.Len() > 0 {
				c = unicode.ToUpper(c)
			}
			b.WriteRune(c)
			upper = false
		default:
			upper = true
		}
	}
	if b.Len() == 0 || unicode.IsDigit(rune(b.String()[0])) {
		return "op" + strings.ToUpper(b.String()[:min(1, b.Len())]) + b.String()[min(1, b.Len()):]
	}
	return b.String()
}

// uniqueID numbers an operation id taken already (ids that differ only in
// punctuation, such as /v1/a-b and /v1/aB).
func uniqueID(seen map[string]int, id string) string {
	n := seen[id]
	seen[id] = n + 1
	if n == 0 {
		return id
	}
	return fmt.Sprintf("%s%d", id, n+1)
}

func cloneSchema(s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil {
		return &jsonschema.Schema{}
	}
	c := *s
	return &c
}

// resultSchema reflects the schema of the data a handler returning t sends,
// with null allowed wherever encoding/json may send it. A Result's data is
// of type data, or any value when data is nil; an interface is any value.
func (r *Registry) resultSchema(t, data reflect.Type) *jsonschema.Schema {
	if t == resultType || t == resultPtrType {
		if data == nil {
			return &jsonschema.Schema{}
		}
		t = data
	}
	if t.Kind() == reflect.Interface {
		return &jsonschema.Schema{}
	}
	s := r.reflector.ReflectFromType(t)
	s.Version, s.ID = "", ""
	allowNull(t, s)
	if nilable(t) {
		makeNullable(s)
	}
	return s
}

// nilable reports whether encoding/json may send a value of type t as null.
func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return true
	}
	return false
}

// allowNull lets null through, in the schema s reflected from t, wherever
// encoding/json sends a nil pointer, slice or map as null: the reflector
// leaves null out, and answers (unlike parameters) carry it.
func allowNull(t reflect.Type, s *jsonschema.Schema) {
	if s == nil || s == jsonschema.TrueSchema || s == jsonschema.FalseSchema {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	elem := func(et reflect.Type, es *jsonschema.Schema) {
		allowNull(et, es)
		if nilable(et) {
			makeNullable(es)
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		if t != timeType && s.Properties != nil {
			allowNullFields(t, s)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			elem(t.Elem(), s.Items)
		}
	case reflect.Map:
		elem(t.Elem(), s.AdditionalProperties)
	}
}

// allowNullFields does allowNull for the fields of struct type t, whose
// properties s holds (embedded structs' fields among them).
func allowNullFields(t reflect.Type, s *jsonschema.Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && !strings.HasPrefix(tag, "-,") {
			continue
		}
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				allowNullFields(ft, s) // its fields are the outer struct's
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if fs, ok := s.Properties.Get(name); ok {
			allowNull(ft, fs)
			if nilable(ft) {
				makeNullable(fs)
			}
		}
	}
}

// makeNullable makes s accept null as well.
func makeNullable(s *jsonschema.Schema) {
	if s == nil || s == jsonschema.TrueSchema || s == jsonschema.FalseSchema {
		return
	}
	if s.Extras == nil {
		s.Extras = map[string]any{}
	}
	switch types, _ := s.Extras["type"].([]string); {
	case s.Type != "":
		s.Extras["type"] = []string{s.Type, "null"}
		s.Type = ""
	case len(types) > 0:
		for _, t := range types {
			if t == "null" {
				return
			}
		}
		s.Extras["type"] = append(types, "null")
	case s.AnyOf != nil || s.OneOf != nil || s.AllOf != nil || s.Ref != "" || s.Not != nil || len(s.Enum) > 0 || s.Const != nil:
		inner := *s
		*s = jsonschema.Schema{AnyOf: []*jsonschema.Schema{&inner, {Type: "null"}}}
	}
}

// dataSchema renders a reflected answer schema as the document holds it,
// nil for a method that sends no data.
func dataSchema(s *jsonschema.Schema) (any, error) {
	if s == nil {
		return nil, nil
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if b, ok := v.(bool); ok && b {
		return map[string]any{}, nil
	}
	return v, nil
}

// successSchema is the success envelope around data (nil: no data is sent).
func successSchema(data any) map[string]any {
	result := map[string]any{
		"status":      map[string]any{"type": "integer", "enum": []int{CodeOK, CodeNoContent}},
		"status_text": map[string]any{"type": "string"},
		"exception":   map[string]any{"type": "boolean", "enum": []bool{false}},
		"meta":        map[string]any{"type": "object", "description": "Extras: read methods put the row count in total."},
		// Read methods repeat the count here, where @softvisio/core clients
		// read it.
		"total":   map[string]any{"type": "integer", "description": "Read methods: the row count, as in meta.total."},
		"summary": map[string]any{"type": "object", "properties": map[string]any{"total": map[string]any{"type": "integer"}}},
	}
	if data != nil {
		result["data"] = data
	}
	return map[string]any{
		"type":     "object",
		"required": []string{"jsonrpc", "result"},
		"properties": map[string]any{
			"jsonrpc": map[string]any{"type": "string", "enum": []string{"2.0"}},
			"id":      rpcIDSchema,
			"result": map[string]any{
				"type":       "object",
				"required":   []string{"status", "status_text", "exception", "meta"},
				"properties": result,
			},
		},
	}
}

// rpcIDSchema is the id echoed from a JSON-RPC request object. It is an
// anyOf rather than one list of types: generators such as ogen refuse a
// type list with more than one type besides null.
var rpcIDSchema = map[string]any{"anyOf": []any{
	map[string]any{"type": "string"}, map[string]any{"type": "integer"}, map[string]any{"type": "null"},
}}

var failureSchema = map[string]any{
	"type":     "object",
	"required": []string{"jsonrpc", "error"},
	"properties": map[string]any{
		"jsonrpc": map[string]any{"type": "string", "enum": []string{"2.0"}},
		"id":      rpcIDSchema,
		"error": map[string]any{
			"type":     "object",
			"required": []string{"code", "message", "data"},
			"properties": map[string]any{
				"code":    map[string]any{"type": "integer", "description": "An HTTP status, or a JSON-RPC code (-32801 and below)."},
				"message": map[string]any{"type": "string"},
				"data": map[string]any{
					"type":     "object",
					"required": []string{"exception", "meta"},
					"properties": map[string]any{
						"exception": map[string]any{"type": "boolean", "description": "true for an internal error."},
						"meta":      map[string]any{"type": "object"},
					},
				},
			},
		},
	},
}

// failureResponses are the error answers operations refer to, by HTTP status.
var failureResponses = func() map[string]any {
	failure := func(desc string) map[string]any {
		return map[string]any{
			"description": desc,
			"content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/Failure"},
			}},
		}
	}
	return map[string]any{
		"BadRequest":           failure("400: a rule of the method was broken; -32807: the body is not valid JSON; -32808: the parameters do not match the method's schema (the message names the parameter and the rule)."),
		"Unauthorized":         failure("-32801: the caller may not call this method (a guest, or lacking the permissions); 401: bad credentials."),
		"NotFound":             failure("-32809: no such method; 404: the object named does not exist."),
		"TooLarge":             failure("-32902: the body or upload is too large."),
		"UnsupportedMediaType": failure("-32803: the content type is not application/json (nor multipart/form-data for an upload)."),
		"TooManyRequests":      failure("429: too many calls; slow down."),
		"Internal":             failure("500: an internal error; exception is true and the message generic."),
		"Failure":              failure("Another refusal, such as 403 (not allowed here) or 409 (already exists)."),
	}
}()

var (
	timeType      = reflect.TypeFor[time.Time]()
	resultType    = reflect.TypeFor[Result]()
	resultPtrType = reflect.TypeFor[*Result]()
)
