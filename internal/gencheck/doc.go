// Package gencheck holds the test that generates a Go client from the
// example app's OpenAPI document with ogen, compiles it, and calls the
// running app with it. It is a module of its own so that the generator
// never becomes a dependency of the library.
package gencheck
