package rpc

import (
	"reflect"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
)

// predecoded holds the parameters of m decoded by their compiled checks as
// the body was split, by position: read once, before the permission check
// that may refuse the call. What a decoder gives up on is decoded again,
// from its raw bytes, once the call is allowed, where a refusal answers.
type predecoded struct {
	m    *method
	vals []reflect.Value // by parameter: the handler's arguments after the context
	done uint8           // bit i: vals[i] holds parameter i
}

// predecodeBudget bounds what decoding a parameter before the permission
// check may allocate for slices and pointers; a larger one is decoded
// after it.
const predecodeBudget = 64 << 10

// predecode returns a predecoded for m, writing into args from
// m.firstParam on, or nil when args has no room for m's parameters.
func predecode(m *method, args []reflect.Value) predecoded {
	if m == nil || m.file != nil || m.firstParam+len(m.params) > min(len(args), 8) {
		return predecoded{}
	}
	return predecoded{m: m, vals: args[m.firstParam : m.firstParam+len(m.params)]}
}

// decode decodes the element at s's offset, parameter i of pre.m, if its
// compiled check can, and reports whether it did; s is left where it was if
// not. Decoded before the caller is known to be allowed: a small body must
// not make the server allocate much more than itself.
func (pre *predecoded) decode(s *jsoncheck.Scanner, i int) bool {
	if pre == nil || i >= len(pre.vals) {
		return false
	}
	c := pre.m.params[i].check
	if c == nil {
		return false
	}
	v, ok := c.DecodeAt(s, predecodeBudget)
	if !ok {
		return false
	}
	pre.vals[i], pre.done = v, pre.done|1<<i
	return true
}

// value returns parameter i, if pre holds it.
func (pre *predecoded) value(i int) (reflect.Value, bool) {
	if pre == nil || i >= len(pre.vals) || pre.done&(1<<i) == 0 {
		return reflect.Value{}, false
	}
	return pre.vals[i], true
}
