// Package openapicheck holds the tests that validate the registry's OpenAPI
// document, and real answers against it, with libopenapi. They live apart
// from package rpc so that rpc's tests and fuzz targets build without that
// large dependency.
package openapicheck
