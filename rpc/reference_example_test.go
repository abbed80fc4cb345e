package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// newGreeter builds the host's registry; a host with modules mounts them
// here too, on the database it is given.
func newGreeter() *rpc.Registry {
	reg := rpc.New(rpc.Options{Title: "Greeter API", Prefix: "/api", BaseURL: "https://api.example.com"})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "name", Description: "Who to greet."}},
		Handler: func(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil },
	})
	return reg
}

// A host prints the reference of its own registry from its own main, with
// a flag: `go run ./cmd/yourapp -reference openapi > openapi.json`. The
// registry needs its methods, not its data: a host whose modules need a
// database mounts them on an in-memory SQLite (storage.Open(ctx,
// ":memory:")) for this, so the real one is never opened.
func ExampleRegistry_WriteReference() {
	fs := flag.NewFlagSet("yourapp", flag.ContinueOnError)
	reference := fs.String("reference", "", "print the API reference (markdown or openapi) and exit")
	_ = fs.Parse([]string{"-reference", "openapi"}) // os.Args[1:] in a real main

	reg := newGreeter()
	if *reference != "" {
		var out bytes.Buffer // os.Stdout in a real main
		if err := reg.WriteReference(&out, *reference); err != nil {
			fmt.Println(err)
			return
		}
		var doc struct {
			Servers []struct{ URL string }
			Paths   map[string]any
		}
		_ = json.Unmarshal(out.Bytes(), &doc)
		fmt.Println(doc.Servers[0].URL, slices.Collect(maps.Keys(doc.Paths)))
	}
	fmt.Println(reg.WriteReference(io.Discard, "yaml"))
	// Output:
	// https://api.example.com/api [/v1/hello]
	// rpc: reference format "yaml": want "markdown" or "openapi"
}

func TestWriteReference(t *testing.T) {
	t.Parallel()
	reg := newGreeter()
	var md, want bytes.Buffer
	require.NoError(t, reg.WriteReference(&md, rpc.FormatMarkdown))
	require.NoError(t, reg.WriteMarkdown(&want))
	assert.Equal(t, want.String(), md.String())
	assert.True(t, strings.HasPrefix(md.String(), "# Greeter API\n"))

	var api bytes.Buffer
	require.NoError(t, reg.WriteReference(&api, rpc.FormatOpenAPI))
	doc, err := reg.OpenAPI()
	require.NoError(t, err)
	assert.Equal(t, string(doc)+"\n", api.String())

	for _, format := range []string{"", "Markdown", "json"} {
		var out bytes.Buffer
		assert.ErrorContains(t, reg.WriteReference(&out, format), `want "markdown" or "openapi"`, format)
		assert.Zero(t, out.Len(), "nothing written")
	}
}
