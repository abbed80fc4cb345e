package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck/checkcases"
)

// checkParams compiles a parameter of each of checkcases.Types, and a copy of
// each without its compiled check. Their schemas are those jsoncheck's tests
// reflect.
func checkParams(tb testing.TB) (compiled, full []*param) {
	r := New(Options{})
	for _, t := range checkcases.Types {
		p, err := r.compileParam(0, Param{Name: "p"}, t)
		if err != nil {
			tb.Fatal(err)
		}
		if schema, _ := json.Marshal(p.schema); !bytes.Equal(schema, checkcases.Schema(tb, t)) {
			tb.Fatalf("%s: reflected as %s, jsoncheck's tests reflect %s", t, schema, checkcases.Schema(tb, t))
		}
		if p.check == nil {
			tb.Fatalf("%s: no compiled check for its reflected schema", t)
		}
		slow := *p
		slow.check = nil
		compiled, full = append(compiled, p), append(full, &slow)
	}
	return compiled, full
}

// FuzzCompiledCheck holds a parameter's compiled check to the full
// validator over representative schemas: a parameter decodes the same, to
// the same value or the same message, with the check and without it, and
// when decoded as the body is split. (jsoncheck.FuzzCheck holds the check
// itself to the validator.)
func FuzzCompiledCheck(f *testing.F) {
	for _, s := range checkcases.Seeds {
		for i := range checkcases.Types {
			f.Add(uint8(i), s)
		}
	}
	compiled, full := checkParams(f)
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		i := int(which) % len(compiled)
		raw := []byte(value)
		if !json.Valid(raw) {
			return // the request decoder refuses it before any parameter is decoded
		}
		got, gotErr := compiled[i].decode(raw)
		want, wantErr := full[i].decode(raw)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Message != wantErr.Message {
			t.Fatalf("%s %s: with the check %v, without %v", checkcases.Types[i], value, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Fatalf("%s %s: with the check %#v, without %#v", checkcases.Types[i], value, got, want)
		}
		m := &method{params: []*param{compiled[i]}, firstParam: 1}
		args := make([]reflect.Value, 2)
		pre := &predecoded{m: m, vals: args[1:]}
		in, e := parseBodyInto([]byte("["+value+"]"), nil, pre)
		if e != nil || len(in.raws) != 1 {
			return // a value such as 1,2 is two parameters
		}
		if preErr := m.decodeParams(in.raws, args, pre); (preErr == nil) != (wantErr == nil) || preErr != nil && preErr.Message != wantErr.Message {
			t.Fatalf("%s %s: split and decoded %v, without the check %v", checkcases.Types[i], value, preErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(args[1].Interface(), want.Interface()) {
			t.Fatalf("%s %s: split and decoded %#v, without the check %#v", checkcases.Types[i], value, args[1], want)
		}
	})
}

// TestRefusalMessageStable checks that a value breaking several rules gets
// the same message every time: the validator meets an object's properties
// in no fixed order, and the message lists them sorted.
func TestRefusalMessageStable(t *testing.T) {
	t.Parallel()
	compiled, _ := checkParams(t)
	const want = `parameter 1 "p": at /count: must be at most 1000, got 2000; at /name: must be at least 1 characters long, got 0; unknown properties not allowed: "a", "b", "c", and 1 more`
	for range 20 {
		_, err := compiled[0].decode([]byte(`{"name":"","count":2000,"d":1,"c":1,"b":1,"a":1}`))
		if err == nil || err.Message != want {
			t.Fatalf("got %v, want %s", err, want)
		}
	}
}

// TestPredecoded checks that the parameters decoded as a body is split are
// those decodeParams gives from the raw elements.
func TestPredecoded(t *testing.T) {
	t.Parallel()
	r := New(Options{})
	r.Register(Method{
		ID: "/v1/p", Title: "P", Permissions: []string{"*"},
		Params:  []Param{{Name: "flat"}, {Name: "list?"}, {Name: "name?"}},
		Handler: func(ctx context.Context, f checkcases.Flat, l []checkcases.Flat, name string) error { return nil },
	})
	m := r.lookup("/v1/p")
	for _, c := range []struct {
		body string
		done uint8
	}{
		{`[{"name":"a","count":1},[{"name":"b","count":2}],"c"]`, 0b011},
		{`[{"name":"a","count":1001},[{"name":"b","count":2}]]`, 0b010},
		{`[ {"count":0 , "name":"é"} , null ]`, 0b001},
		{`[{"name":"a","count":1,"x":2}]`, 0},
	} {
		got := make([]reflect.Value, m.firstParam+len(m.params))
		pre := &predecoded{m: m, vals: got[m.firstParam:]}
		in, e := parseBodyInto([]byte(c.body), nil, pre)
		if e != nil {
			t.Fatalf("%s: %v", c.body, e)
		}
		if pre.done != c.done {
			t.Errorf("%s: decoded %03b, want %03b", c.body, pre.done, c.done)
		}
		want := make([]reflect.Value, len(got))
		errGot, errWant := m.decodeParams(in.raws, got, pre), m.decodeParams(in.raws, want, nil)
		if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Message != errWant.Message {
			t.Fatalf("%s: %v, without predecoding %v", c.body, errGot, errWant)
		}
		for i := m.firstParam; errGot == nil && i < len(got); i++ {
			if !reflect.DeepEqual(got[i].Interface(), want[i].Interface()) {
				t.Errorf("%s: parameter %d %#v, without predecoding %#v", c.body, i, got[i], want[i])
			}
		}
	}
}

// TestPredecodedBudget checks that a parameter decoded before the
// permission check cannot make the server allocate much more than the
// body: a long array of small objects is left for after it.
func TestPredecodedBudget(t *testing.T) {
	t.Parallel()
	type big struct {
		Pad [512]byte `json:"-"`
		N   int       `json:"n"`
	}
	r := New(Options{})
	r.Register(Method{
		ID: "/v1/b", Title: "B", Permissions: []string{"*"},
		Params:  []Param{{Name: "list"}},
		Handler: func(ctx context.Context, l []big) error { return nil },
	})
	m := r.lookup("/v1/b")
	for n, want := range map[int]uint8{10: 1, 1000: 0} {
		body := "[[" + strings.Repeat(`{"n":1},`, n-1) + `{"n":1}]]`
		got := make([]reflect.Value, m.firstParam+len(m.params))
		pre := &predecoded{m: m, vals: got[m.firstParam:]}
		if _, e := parseBodyInto([]byte(body), nil, pre); e != nil {
			t.Fatal(e)
		}
		if pre.done != want {
			t.Errorf("%d items: decoded %b, want %b", n, pre.done, want)
		}
	}
}
