// Package jsoncheck compiles a JSON Schema into a check that reads a value's
// raw bytes once: whether it is valid, and, for a Go type it covers, the Go
// value json.Unmarshal would make of it, in the same pass.
//
// It covers what reflection from Go types and jsonschema tags produces;
// Compile returns nil for any other schema. A check refuses whenever it is
// unsure, and never accepts what a full JSON Schema validator refuses: a
// refusal goes to that validator, which has the last word and words the
// message. Package rpc checks and decodes parameters with it.
//
// Scanner reads JSON for a caller that splits a document (a request body
// into its parameters) and decodes its items as it goes (Check.DecodeAt).
package jsoncheck
