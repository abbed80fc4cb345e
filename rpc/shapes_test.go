package rpc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// The answers @softvisio/core front ends read (SPEC §7a), as the rpc package
// gives them to every module.

type shapeRow struct {
	ID   int64  `json:"id,string"`
	Name string `json:"name"`
}

var shapeSpec = &read.Spec{Fields: []read.Field{
	{Name: "id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
	{Name: "name", Conditions: []string{"like"}},
}}

func shapeRegistry(t *testing.T) *rpc.Registry {
	t.Helper()
	reg := rpc.New(rpc.Options{UploadDir: t.TempDir()})
	m := reg.Section("/v1/s", "Shapes")
	rows := []shapeRow{{1, "ann"}, {2, "bob"}}
	m.Register(rpc.Method{
		ID: "read", Title: "Read", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "options?", Read: shapeSpec}},
		Handler: func(ctx context.Context, o read.Options) (rpc.Result, error) {
			out := rows
			if v, ok := o.Value("id"); ok {
				out = nil
				for _, r := range rows {
					if r.ID == v.(int64) {
						out = append(out, r)
					}
				}
			}
			return rpc.ReadPage(o, out, len(out))
		},
	})
	return reg
}

func TestReadAnswersTotalAtTheTop(t *testing.T) {
	t.Parallel()
	c := rpctest.New(shapeRegistry(t))
	a := c.Call(t, "/v1/s/read")
	require.Equal(t, 200, a.HTTP, a.Raw)
	var env struct {
		Result struct {
			Total   int            `json:"total"`
			Summary map[string]int `json:"summary"`
			Data    []shapeRow     `json:"data"`
			Meta    map[string]int `json:"meta"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.Raw), &env))
	assert.Equal(t, 2, env.Result.Total, a.Raw)
	assert.Equal(t, map[string]int{"total": 2}, env.Result.Summary, a.Raw)
	assert.Equal(t, map[string]int{"total": 2}, env.Result.Meta, a.Raw)
	assert.Len(t, env.Result.Data, 2)
}

func TestReadByOptionsID(t *testing.T) {
	t.Parallel()
	c := rpctest.New(shapeRegistry(t))
	a := c.Call(t, "/v1/s/read", map[string]any{"id": "2"})
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `{"id":"2","name":"bob"}`, string(a.Data), "one row, as an object")

	a = c.Call(t, "/v1/s/read", map[string]any{"id": 2})
	assert.JSONEq(t, `{"id":"2","name":"bob"}`, string(a.Data), "a JSON integer too")

	a = c.Call(t, "/v1/s/read", map[string]any{"id": "9"})
	assert.Equal(t, 404, a.Code, a.Raw)

	for _, bad := range []any{[]any{"=", "2"}, "x", nil, map[string]any{}} {
		a = c.Call(t, "/v1/s/read", map[string]any{"id": bad})
		assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	}
}

func TestOptionsIDOnlyWhereAFieldIsNamedID(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "read", Title: "Read", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "options?", Read: &read.Spec{Fields: []read.Field{{Name: "name", Conditions: []string{"="}}}}}},
		Handler: func(ctx context.Context, o read.Options) (rpc.Result, error) {
			return rpc.ReadPage(o, []shapeRow{}, 0)
		},
	})
	a := rpctest.New(reg).Call(t, "/v1/s/read", map[string]any{"id": "1"})
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	assert.Contains(t, a.Message, "allowed: where, order_by, limit, offset")
}

func TestResultFieldsLeaveTheEnvelopeAlone(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "f", Title: "Fields", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (rpc.Result, error) {
			return rpc.Result{Data: 1, Fields: map[string]any{"status": 500, "data": 2, "meta": 3, "exception": true, "extra": "x"}}, nil
		},
	})
	a := rpctest.New(reg).Call(t, "/v1/s/f")
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"extra":"x","data":1,"meta":{}}}`, a.Raw)
}

// Data given as a json.RawMessage is sent as it is: neither compacted nor
// escaped, as encoding/json would; an empty one is null.
func TestRawMessageDataIsSentAsItIs(t *testing.T) {
	reg := rpc.New(rpc.Options{})
	raw := json.RawMessage(`{"b": [1, 2], "a": "<x>"}`)
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "raw", Title: "Raw", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (rpc.Result, error) {
			return rpc.Result{Data: raw, Meta: map[string]any{"n": 1}}, nil
		},
	})
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "empty", Title: "Empty", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (rpc.Result, error) {
			return rpc.Result{Data: json.RawMessage(nil)}, nil
		},
	})
	c := rpctest.New(reg)
	a := c.Call(t, "/v1/s/raw")
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.Equal(t, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":{"b": [1, 2], "a": "<x>"},"meta":{"n":1}}}`, a.Raw)
	a = c.Call(t, "/v1/s/empty")
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.Equal(t, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":null,"meta":{}}}`, a.Raw)
}

// blocker is a method that holds its calls until released.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func activeRegistry(t *testing.T, limit, userLimit int) (*rpc.Registry, *blocker) {
	t.Helper()
	b := &blocker{entered: make(chan struct{}, 16), release: make(chan struct{})}
	reg := rpc.New(rpc.Options{})
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "slow", Title: "Slow", Permissions: []string{auth.Anyone},
		MaxActive: limit, MaxActivePerUser: userLimit,
		Handler: func(ctx context.Context) error {
			b.entered <- struct{}{}
			select {
			case <-b.release:
			case <-time.After(10 * time.Second):
			}
			return nil
		},
	})
	return reg, b
}

// start calls slow from addr in the background and waits until it is in
// the handler.
func (b *blocker) start(t *testing.T, c *rpctest.Client, wg *sync.WaitGroup, addr string) {
	t.Helper()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if a := c.From(addr).Call(t, "/v1/s/slow"); a.HTTP != 200 {
			t.Errorf("the call in flight: %s", a.Raw)
		}
	}()
	select {
	case <-b.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not start")
	}
}

func TestMaxActive(t *testing.T) {
	t.Parallel()
	reg, b := activeRegistry(t, 2, 0)
	c := rpctest.New(reg)
	var wg sync.WaitGroup
	b.start(t, c, &wg, "192.0.2.1")
	b.start(t, c, &wg, "192.0.2.2")
	act, ok := reg.Active("/v1/s/slow")
	require.True(t, ok)
	assert.Equal(t, rpc.ActiveCalls{Limit: 2, Total: 2}, act)

	a := c.From("192.0.2.3").Call(t, "/v1/s/slow")
	assert.Equal(t, rpc.CodeTooManyActive, a.Code, a.Raw)
	assert.Equal(t, http.StatusTooManyRequests, a.HTTP)

	close(b.release)
	wg.Wait()
	act, _ = reg.Active("/v1/s/slow")
	assert.Equal(t, int64(0), act.Total, "every call counted out")
	a = c.Call(t, "/v1/s/slow")
	assert.Equal(t, 200, a.HTTP, a.Raw)
}

func TestMaxActivePerUser(t *testing.T) {
	t.Parallel()
	reg, b := activeRegistry(t, 0, 1)
	c := rpctest.New(reg)
	var wg sync.WaitGroup
	b.start(t, c, &wg, "192.0.2.1")

	a := c.From("192.0.2.1").Call(t, "/v1/s/slow")
	assert.Equal(t, rpc.CodeTooManyActive, a.Code, a.Raw)
	assert.Equal(t, http.StatusTooManyRequests, a.HTTP)

	b.start(t, c, &wg, "192.0.2.2") // another caller is not held back
	act, _ := reg.Active("/v1/s/slow")
	assert.Equal(t, rpc.ActiveCalls{UserLimit: 1, Total: 2}, act)
	close(b.release)
	wg.Wait()
	act, _ = reg.Active("/v1/s/slow")
	assert.Equal(t, int64(0), act.Total)
	_, ok := reg.Active("/v1/s/nope")
	assert.False(t, ok)
}

func TestActiveCountsVoidCallsUntilTheyEnd(t *testing.T) {
	t.Parallel()
	reg, b := activeRegistry(t, 1, 0)
	c := rpctest.New(reg)
	a := c.With("X-API-Void-Call", "true").Call(t, "/v1/s/slow")
	require.Equal(t, 200, a.HTTP, a.Raw)
	<-b.entered
	a = c.Call(t, "/v1/s/slow")
	assert.Equal(t, rpc.CodeTooManyActive, a.Code, "the void call is still in flight: %s", a.Raw)
	close(b.release)
	require.Eventually(t, func() bool { act, _ := reg.Active("/v1/s/slow"); return act.Total == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestUploadComesFirst(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{UploadDir: t.TempDir()})
	reg.Section("/v1/s", "Shapes").Register(rpc.Method{
		ID: "upload", Title: "Upload", Permissions: []string{auth.Anyone}, MaxUploadBytes: 1000,
		Params: []rpc.Param{{Name: "file"}, {Name: "note"}, {Name: "n?"}},
		Handler: func(ctx context.Context, up *rpc.Upload, note string, n int) (map[string]any, error) {
			if up == nil {
				return map[string]any{"file": nil, "note": note}, nil
			}
			f, err := up.Open()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			b, err := io.ReadAll(f)
			if err != nil {
				return nil, err
			}
			return map[string]any{"file": string(b), "note": note, "n": n}, nil
		},
	})
	c := rpctest.New(reg)
	a := c.Do(t, multipartRequest(t, "/v1/s/upload", map[string]string{"params": `["hello", 3]`}, "a.txt", []byte("body")))
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `{"file":"body","note":"hello","n":3}`, string(a.Data))

	a = c.Do(t, multipartRequest(t, "/v1/s/upload", map[string]string{"params": `[5]`}, "a.txt", []byte("body")))
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	assert.Contains(t, a.Message, `parameter 2 "note"`, "numbered as the API v1 reference numbers them, the file first")

	a = c.Do(t, multipartRequest(t, "/v1/s/upload", map[string]string{"params": `["a", 1, 2]`}, "a.txt", []byte("body")))
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)

	// Without an upload, the file's place is in the parameters, empty.
	a = c.Call(t, "/v1/s/upload", nil, "plain")
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `{"file":null,"note":"plain"}`, string(a.Data))
	a = c.Call(t, "/v1/s/upload", "a file?", "plain")
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	assert.Contains(t, a.Message, `parameter 1 "file"`)

	// The reference lists the file as the first parameter.
	info := reg.Methods()[0]
	require.Len(t, info.Params, 3)
	assert.Equal(t, "file", info.Params[0].Name)
	assert.True(t, info.Params[0].File)
}
