// Package compare serves one pair of authenticated methods taking a struct
// three ways, so that their cost can be measured side by side in one run:
//
//   - HandWritten: a net/http handler doing every check by hand;
//   - Huma: Huma v2 on http.ServeMux (humago), the checks from its tags;
//   - AuthRPC: an authrpc registry, the checks from the reflected schema.
//
// The methods are greet, taking {"name": 1..64 characters, "count":
// 0..1000} and answering {"greeting", "count"}, and order, taking a
// customer with two length-bounded strings, 1..50 items each with a SKU
// matching a pattern and a bounded quantity, and an optional note. Every
// implementation authenticates the caller by a bearer token, refuses a
// request that breaks any rule of the schema (a missing or unknown
// property too) with a 4xx, and answers the same data; Huma answers it as
// the body, the others inside the JSON-RPC envelope.
//
// The package is its own module so that Huma never becomes a dependency of
// the library; its benchmarks are a measurement, not a check. See
// README.md for the command and the numbers.
package compare
