package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
)

// httpTransport sends each call as a POST of its parameter array to the
// method's path below base.
type httpTransport struct {
	c      *Client
	base   string // the mount point's URL, without a trailing slash
	closed atomic.Bool
}

func (t *httpTransport) call(ctx context.Context, method string, params []any, void bool) (*Result, error) {
	if t.closed.Load() {
		return nil, ErrClosed
	}
	if params == nil {
		params = []any{}
	}
	js, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("client: %s: marshal the parameters: %w", method, err)
	}
	enc := t.c.opts.Encoding
	body, err := enc.encode(js)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", method, err)
	}
	for name, values := range t.c.opts.Header {
		req.Header[name] = append([]string(nil), values...)
	}
	req.Header.Set("Content-Type", enc.contentType())
	if token := t.c.Token(); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if void {
		req.Header.Set("X-API-Void-Call", "true")
	}
	res, err := t.c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", method, err)
	}
	m, err := t.read(method, res)
	if err != nil {
		return nil, err
	}
	return m.answer(method)
}

// read reads and decodes the answer in res, and closes its body.
func (t *httpTransport) read(method string, res *http.Response) (*message, error) {
	defer res.Body.Close()
	most := t.c.opts.MaxMessageBytes
	b, err := io.ReadAll(io.LimitReader(res.Body, most+1))
	if err != nil {
		return nil, fmt.Errorf("client: %s: read the answer (HTTP %d): %w", method, res.StatusCode, err)
	}
	if int64(len(b)) > most {
		return nil, fmt.Errorf("client: %s: the answer is larger than %d bytes", method, most)
	}
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	var enc Encoding
	switch ct {
	case "application/json":
		enc = JSON
	case "application/msgpack":
		enc = MessagePack
	default:
		return nil, fmt.Errorf("client: %s: HTTP %d with Content-Type %q: %s", method, res.StatusCode, ct, quote(b))
	}
	if b, err = enc.decode(b); err != nil {
		return nil, fmt.Errorf("client: %s: HTTP %d: %w", method, res.StatusCode, err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("client: %s: HTTP %d: the answer is not a JSON-RPC message: %s", method, res.StatusCode, quote(b))
	}
	return &m, nil
}

func (t *httpTransport) ping(ctx context.Context) error {
	_, err := t.call(ctx, "/ping", nil, false)
	return err
}

func (t *httpTransport) tokenChanged() {}

func (t *httpTransport) close() error {
	t.closed.Store(true)
	return nil
}
