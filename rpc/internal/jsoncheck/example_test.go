package jsoncheck_test

import (
	"fmt"
	"reflect"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
)

func Example() {
	type point struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	schema := []byte(`{"type":"object","properties":{"x":{"type":"integer","minimum":0},"y":{"type":"integer"}},"required":["x","y"],"additionalProperties":false}`)
	c := jsoncheck.Compile(schema, reflect.TypeFor[point]())

	fmt.Println(c.Accepts([]byte(`{"x":1,"y":2}`)))
	fmt.Println(c.Accepts([]byte(`{"x":-1,"y":2}`))) // refused: the full validator says why
	v, ok := c.Decode([]byte(`{"y":-2,"x":1}`))
	fmt.Printf("%+v %v\n", v.Interface(), ok)
	// Output:
	// true
	// false
	// {X:1 Y:-2} true
}
