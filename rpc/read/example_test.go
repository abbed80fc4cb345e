package read_test

import (
	"encoding/json"
	"fmt"

	"github.com/authrpc/authrpc/rpc/read"
)

// A spec declares what a list method's options may name; Parse checks a
// request's options against it and types their values.
func ExampleSpec_Parse() {
	spec := &read.Spec{
		Fields: []read.Field{
			{Name: "id", Type: read.ID, Conditions: []string{"=", "in"}, Sortable: true},
			{Name: "name", Conditions: []string{"=", "like"}, Sortable: true},
			{Name: "enabled", Type: read.Boolean, Conditions: []string{"="}},
		},
		MaxLimit:     50,
		DefaultOrder: []read.Order{{Field: "id"}},
	}
	if err := spec.Check(); err != nil {
		panic(err)
	}

	o, err := spec.Parse(json.RawMessage(`{
		"where": {"name": ["like", "ali"], "enabled": true, "id": ["in", ["7", 8]]},
		"order_by": ["name", "desc"],
		"limit": 500
	}`))
	if err != nil {
		panic(err)
	}
	for _, c := range o.Where {
		fmt.Printf("%s %s %#v\n", c.Field, c.Op, c.Value)
	}
	fmt.Println("order:", o.OrderBy, "limit:", o.Limit)

	_, err = spec.Parse(json.RawMessage(`{"where": {"password": "x"}}`))
	fmt.Println(err)
	// Output:
	// name like "ali"
	// enabled = true
	// id in []interface {}{7, 8}
	// order: [{name true}] limit: 50
	// options.where: unknown field "password" (filterable: id, name, enabled)
}

// Reference renders the options of a method for the Markdown reference.
func ExampleSpec_Reference() {
	spec := &read.Spec{Fields: []read.Field{
		{Name: "method_id", Conditions: []string{"="}, Required: true},
		{Name: "id", Type: read.ID, Sortable: true},
	}}
	fmt.Print(spec.Reference())
	// Output:
	// apiRead:
	//     method_id:
	//         type: string
	//         conditions:
	//             - "="
	//         required: true
	//     id:
	//         sortable: true
}
