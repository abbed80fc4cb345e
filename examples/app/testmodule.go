package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/invopop/jsonschema"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// registerTestModule adds the API v1 reference's /v1/test methods, an echo
// and an upload, and publish, which sends an event from outside.
func registerTestModule(reg *rpc.Registry) {
	m := reg.Section("/v1/test", "Test")
	m.Register(rpc.Method{
		ID:          "test",
		Title:       "Test",
		Description: "Answers its argument as it was sent.",
		Permissions: []string{auth.Anyone},
		Params:      []rpc.Param{{Name: "args?"}},
		Handler: func(ctx context.Context, args *string) (any, error) {
			if args == nil {
				return nil, nil
			}
			return *args, nil
		},
	})
	m.Register(rpc.Method{
		ID:             "upload",
		Title:          "Test upload",
		Description:    "Accepts a multipart upload (a `file` part, up to 10 MiB) and answers the file's name and size with the parameter it was given: the file is the first parameter, the `params` part holds the ones after it.",
		Permissions:    []string{auth.Anyone},
		MaxUploadBytes: 10 << 20,
		Params: []rpc.Param{
			{Name: "request?", Description: "The uploaded file (the `file` part)."},
			{Name: "data?", Schema: &jsonschema.Schema{Extras: map[string]any{"type": []string{"string", "object"}}}},
		},
		Handler: testUpload,
	})
	m.Register(rpc.Method{
		ID:          "publish",
		Title:       "Test publish",
		Description: "Publishes the event `name` with the arguments `args` to the WebSockets in any of `groups` (`*`, `user`, `guest`, `root`, a user id, a permission), on every instance.",
		Permissions: []string{auth.Root},
		Params: []rpc.Param{
			{Name: "name", Schema: &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1)), MaxLength: ptr(uint64(maxEventName)), Pattern: printable}},
			{Name: "groups", Schema: &jsonschema.Schema{Type: "array", MinItems: ptr(uint64(1)), MaxItems: ptr(uint64(maxGroups)),
				Items: &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1)), MaxLength: ptr(uint64(maxEventName)), Pattern: printable}}},
			{Name: "args?", Schema: &jsonschema.Schema{Type: "array"}},
		},
		Handler: testPublish(reg),
	})
}

// Bounds of /v1/test/publish: names and groups are short words, and the
// arguments nest no deeper than a front end's data does.
const (
	maxEventName = 200
	maxGroups    = 100
	maxArgsDepth = 32
)

func testPublish(reg *rpc.Registry) func(ctx context.Context, name string, groups []string, args []json.RawMessage) error {
	return func(ctx context.Context, name string, groups []string, args []json.RawMessage) error {
		params := make([]any, len(args))
		for i, a := range args {
			if jsonDepth(a) > maxArgsDepth {
				return rpc.BadRequest("args: argument %d nests deeper than %d levels", i+1, maxArgsDepth)
			}
			params[i] = a
		}
		return reg.Publish(ctx, name, groups, params...)
	}
}

// jsonDepth is how deeply a valid JSON value nests arrays and objects.
func jsonDepth(v json.RawMessage) int {
	depth, deepest := 0, 0
	dec := json.NewDecoder(bytes.NewReader(v))
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// printable is the pattern of event names and groups: text without control
// characters.
const printable = `^[^\x00-\x1f\x7f]+$`

func ptr[T any](v T) *T { return &v }

type uploadAnswer struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	Data     any    `json:"data,omitempty"`
}

// testUpload takes the file first, as @softvisio/core clients send it: the
// params part holds the arguments after it.
func testUpload(ctx context.Context, up *rpc.Upload, data any) (uploadAnswer, error) {
	if up == nil {
		return uploadAnswer{}, rpc.BadRequest("send a file: multipart/form-data with a \"file\" part")
	}
	f, err := up.Open()
	if err != nil {
		return uploadAnswer{}, err
	}
	defer f.Close()
	// Read it through, as a real handler would, so the size is what arrived.
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		return uploadAnswer{}, fmt.Errorf("test upload: read: %w", err)
	}
	return uploadAnswer{Filename: up.Filename, Size: n, Data: data}, nil
}
