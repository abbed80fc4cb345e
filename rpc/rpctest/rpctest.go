package rpctest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authrpc/authrpc/rpc"
)

// Client calls the methods of a handler in process. Its methods that return
// a Client return a changed copy; a Client is never changed once made, so it
// may be shared between goroutines.
type Client struct {
	h      http.Handler
	header http.Header
	addr   string
}

// New returns a Client that serves its requests with h, through an
// httptest.ResponseRecorder, as a guest.
func New(h http.Handler) *Client {
	return &Client{h: h, header: http.Header{}}
}

func (c *Client) copy() *Client {
	d := *c
	d.header = c.header.Clone()
	return &d
}

// As returns a copy of c that sends "Authorization: Bearer token"; an empty
// token makes the copy a guest, which sends no Authorization header.
func (c *Client) As(token string) *Client {
	d := c.copy()
	if token == "" {
		d.header.Del("Authorization")
	} else {
		d.header.Set("Authorization", "Bearer "+token)
	}
	return d
}

// With returns a copy of c that sends the header name with value: a void
// call (rpc.HeaderVoidCall), a proxy's header, another Content-Type or
// Authorization. An empty value sends the header empty.
func (c *Client) With(name, value string) *Client {
	d := c.copy()
	d.header.Set(name, value)
	return d
}

// From returns a copy of c whose requests come from the client address addr,
// a host or a host:port (the port defaults to 1234). Without From a request
// comes from httptest's 192.0.2.1:1234.
func (c *Client) From(addr string) *Client {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "1234")
	}
	d := c.copy()
	d.addr = addr
	return d
}

// Call calls method (the request path, such as "/v1/session/signin") with
// params marshalled as the positional array: no params send [].
func (c *Client) Call(t testing.TB, method string, params ...any) *Answer {
	t.Helper()
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatalf("rpctest: %s: marshal the parameters: %v", method, err)
	}
	return c.Post(t, method, string(body))
}

// Post POSTs body as it is, as application/json, to method: for malformed
// JSON, values that are not an array, JSON-RPC request objects.
func (c *Client) Post(t testing.TB, method, body string) *Answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return c.Do(t, req)
}

// Do sends any request (a GET, an upload, a body of another content type),
// made with httptest.NewRequest, and returns its checked answer. The
// client's headers (As, With) replace the request's own of the same names,
// and From its remote address; req itself is left as it was.
func (c *Client) Do(t testing.TB, req *http.Request) *Answer {
	t.Helper()
	req = req.Clone(req.Context())
	for name, values := range c.header {
		req.Header[name] = append([]string(nil), values...)
	}
	if c.addr != "" {
		req.RemoteAddr = c.addr
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	a, err := ReadAnswer(rec.Result())
	if err != nil {
		t.Fatalf("rpctest: %s %s: %v", req.Method, req.URL.Path, err)
	}
	return a
}

// Answer is a checked answer: the HTTP exchange as sent, and the envelope's
// fields, whichever of result and error it held.
type Answer struct {
	HTTP   int         // the HTTP status
	Header http.Header // the response headers
	Raw    string      // the body as sent, for failure messages

	Code       int             // result.status, or error.code
	StatusText string          // result.status_text; "" for an error
	Message    string          // error.message; "" for a result
	Data       json.RawMessage // result.data as sent; nil when left out, and for an error
	Meta       map[string]any  // result.meta, or error.data.meta; never nil
	Exception  bool            // result.exception, or error.data.exception
	ID         json.RawMessage // the id echoed from a JSON-RPC request object; nil without

	err bool
}

// Err reports whether the answer is an error (the envelope holds "error").
func (a *Answer) Err() bool { return a.err }

// Decode unmarshals the result's data into v, failing the test when the
// answer is an error, has no data, or does not fit v.
func (a *Answer) Decode(t testing.TB, v any) {
	t.Helper()
	switch {
	case a.err:
		t.Fatalf("rpctest: decode: the answer is an error (HTTP %d): %s", a.HTTP, a.Raw)
	case len(a.Data) == 0:
		t.Fatalf("rpctest: decode: the answer has no data (HTTP %d): %s", a.HTTP, a.Raw)
	}
	if err := json.Unmarshal(a.Data, v); err != nil {
		t.Fatalf("rpctest: decode the data into %T: %v: %s", v, err, a.Raw)
	}
}

// ReadAnswer reads res's body (and closes it) and checks it as Client's
// methods do, but returns what is wrong as an error (naming the rule and
// quoting the body) instead of failing a test: for answers from a real
// server, and for goroutines that may not fail the test.
func ReadAnswer(res *http.Response) (*Answer, error) {
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read the answer (HTTP %d): %w", res.StatusCode, err)
	}
	a := &Answer{HTTP: res.StatusCode, Header: res.Header, Raw: string(b)}
	if err := a.parse(b); err != nil {
		return nil, fmt.Errorf("%w (HTTP %d): %s", err, a.HTTP, a.Raw)
	}
	return a, nil
}

// parse fills a from the body b, checking the wire format's rules.
func (a *Answer) parse(b []byte) error {
	if ct := a.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type is %q, not application/json", ct)
	}
	if !json.Valid(b) {
		return errors.New("the body is not valid JSON")
	}
	if !isObject(b) {
		return errors.New("the body is not a JSON object")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("the body: %v", err)
	}
	var version string
	if v, ok := env["jsonrpc"]; !ok || json.Unmarshal(v, &version) != nil || version != "2.0" {
		return errors.New(`"jsonrpc" is not "2.0"`)
	}
	a.ID = env["id"]
	result, isResult := env["result"]
	failure, isError := env["error"]
	switch {
	case isResult == isError:
		return errors.New(`the envelope must hold exactly one of "result" and "error"`)
	case isResult:
		if err := a.parseResult(result); err != nil {
			return err
		}
	default:
		a.err = true
		if err := a.parseError(failure); err != nil {
			return err
		}
	}
	if want := rpc.HTTPStatus(a.Code); a.HTTP != want {
		return fmt.Errorf("HTTP status %d does not go with code %d, which is sent as %d", a.HTTP, a.Code, want)
	}
	return nil
}

func (a *Answer) parseResult(raw json.RawMessage) error {
	if !isObject(raw) {
		return errors.New(`"result" is not an object`)
	}
	var r struct {
		Status     *int            `json:"status"`
		StatusText *string         `json:"status_text"`
		Exception  *bool           `json:"exception"`
		Data       json.RawMessage `json:"data"`
		Meta       json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf(`"result": %v`, err)
	}
	switch {
	case r.Status == nil:
		return errors.New(`"result" has no "status"`)
	case isErrorCode(*r.Status):
		return fmt.Errorf(`"result" has the status %d of an error`, *r.Status)
	case r.StatusText == nil:
		return errors.New(`"result" has no "status_text"`)
	case r.Exception == nil:
		return errors.New(`"result" has no "exception"`)
	case *r.Exception:
		return errors.New(`"result" has "exception": true`)
	}
	meta, err := parseMeta(r.Meta, "result.meta")
	if err != nil {
		return err
	}
	a.Code, a.StatusText, a.Data, a.Meta = *r.Status, *r.StatusText, r.Data, meta
	return nil
}

func (a *Answer) parseError(raw json.RawMessage) error {
	if !isObject(raw) {
		return errors.New(`"error" is not an object`)
	}
	var e struct {
		Code    *int            `json:"code"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf(`"error": %v`, err)
	}
	switch {
	case e.Code == nil:
		return errors.New(`"error" has no "code"`)
	case !isErrorCode(*e.Code):
		return fmt.Errorf(`"error" has the code %d, which is not an error`, *e.Code)
	case e.Message == nil || *e.Message == "":
		return errors.New(`"error" has no "message", or an empty one`)
	case !isObject(e.Data):
		return errors.New(`"error.data" is not an object`)
	}
	var d struct {
		Exception *bool           `json:"exception"`
		Meta      json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return fmt.Errorf(`"error.data": %v`, err)
	}
	switch {
	case d.Exception == nil:
		return errors.New(`"error.data" has no "exception"`)
	case *d.Exception != (*e.Code == rpc.CodeInternal):
		return fmt.Errorf(`"error.data.exception" is %t for code %d: it is true exactly for %d`, *d.Exception, *e.Code, rpc.CodeInternal)
	}
	meta, err := parseMeta(d.Meta, "error.data.meta")
	if err != nil {
		return err
	}
	a.Code, a.Message, a.Exception, a.Meta = *e.Code, *e.Message, *d.Exception, meta
	return nil
}

func parseMeta(raw json.RawMessage, name string) (map[string]any, error) {
	if !isObject(raw) {
		return nil, fmt.Errorf("%q is not an object", name)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("%q: %v", name, err)
	}
	return meta, nil
}

// isErrorCode reports whether code is one of an error: a JSON-RPC code or
// an HTTP status of 400 and above.
func isErrorCode(code int) bool { return code < 0 || code >= 400 }

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}
