// Package read parses the options of list methods: which rows (where), in
// which order (order_by) and which page (limit, offset), as a client sends
// them in one JSON object:
//
//	{"where": {"search": ["like", "ali"], "enabled": true},
//	 "order_by": [["created", "desc"], "name"],
//	 "limit": 20, "offset": 40}
//
// A Spec declares a method's fields: the operators each allows in where,
// the type of its values, whether it sorts, whether where must name it.
// Spec.Parse checks a request's options against the spec and returns Options
// that hold only what the spec allows, with values of the declared Go types.
// Every refusal is an *Error whose message names the offending key. Parsing
// is bounded (nesting, list lengths, string sizes) and refuses duplicate keys.
//
// A Spec also describes itself for the reference: Schema as JSON Schema,
// Reference as the apiRead block of the Markdown reference.
//
// The package knows no database: storage/readsql applies Options to a bun
// query. A handler of package rpc receives Options through a parameter
// whose rpc.Param.Read is the spec; the registry answers a refusal with
// -32808 (invalid params) before the handler runs.
package read
