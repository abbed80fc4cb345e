package compare_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authrpc/authrpc/bench/compare"
)

// A method call of the benchmark: the parameters' object, a variant of it
// that breaks one rule, and the data every implementation must answer.
type call struct {
	name, path  string
	params, bad string
	data        string
}

var calls = []call{
	{
		name: "flat", path: "/v1/greet",
		params: `{"name":"world","count":3}`,
		bad:    `{"name":"world","count":1001}`,
		data:   `{"greeting":"Hello, world","count":3}`,
	},
	{
		name: "nested", path: "/v1/order",
		params: `{"customer":{"name":"Ada","email":"ada@example.com"},"items":[{"sku":"AB-12","qty":2},{"sku":"C-7","qty":1},{"sku":"XYZ-300","qty":5}]}`,
		bad:    `{"customer":{"name":"Ada","email":"ada@example.com"},"items":[{"sku":"AB-12","qty":2},{"sku":"C-7","qty":101}]}`,
		data:   `{"lines":3,"quantity":8}`,
	},
}

// impl is one implementation under measurement and how to speak to it.
type impl struct {
	name string
	h    http.Handler
	// positional is true where the body is a JSON array of the parameters
	// and the answer's data sits in the JSON-RPC envelope; false for Huma,
	// whose body is the object and whose answer is the data.
	positional bool
	// strict is false for the repository's own yardstick, which does not
	// tell a missing count from 0, so it sits out the agreement test.
	strict bool
}

func (im impl) body(params string) []byte {
	if im.positional {
		return []byte("[" + params + "]")
	}
	return []byte(params)
}

// data returns the data of a successful answer, with Huma's "$schema" link
// taken out, as a generic value to compare.
func (im impl) data(answer []byte) (any, error) {
	var v map[string]any
	if err := json.Unmarshal(answer, &v); err != nil {
		return nil, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	if !im.positional {
		delete(v, "$schema")
		return v, nil
	}
	result, _ := v["result"].(map[string]any)
	if v["jsonrpc"] != "2.0" || result == nil || result["status"] != float64(200) {
		return nil, fmt.Errorf("answer is not a successful envelope")
	}
	return result["data"], nil
}

func impls(tb testing.TB) ([]impl, string) {
	tokens, token, err := compare.NewTokens()
	if err != nil {
		tb.Fatal(err)
	}
	return []impl{
		{"hand", compare.HandWritten(tokens), true, true},
		{"huma", compare.Huma(tokens, compare.HumaOptions{}), false, true},
		{"huma-nolinks", compare.Huma(tokens, compare.HumaOptions{NoSchemaLinks: true}), false, true},
		{"authrpc", compare.AuthRPC(tokens), true, true},
	}, token
}

func newRequest(path, token string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// verify checks, in process, that im answers c with 200 and c's data, and
// refuses c's bad parameters with a 4xx.
func verify(tb testing.TB, im impl, c call, token string) {
	tb.Helper()
	rec := httptest.NewRecorder()
	im.h.ServeHTTP(rec, newRequest(c.path, token, im.body(c.params)))
	if rec.Code != http.StatusOK {
		tb.Fatalf("%s %s: answered %d: %s", im.name, c.path, rec.Code, rec.Body)
	}
	checkData(tb, im, c, rec.Body.Bytes())
	rec = httptest.NewRecorder()
	im.h.ServeHTTP(rec, newRequest(c.path, token, im.body(c.bad)))
	if rec.Code < 400 || rec.Code > 499 {
		tb.Fatalf("%s %s: bad parameters answered %d, not a 4xx: %s", im.name, c.path, rec.Code, rec.Body)
	}
}

func checkData(tb testing.TB, im impl, c call, answer []byte) {
	tb.Helper()
	got, err := im.data(answer)
	if err != nil {
		tb.Fatalf("%s %s: %v: %s", im.name, c.path, err, answer)
	}
	var want any
	if err := json.Unmarshal([]byte(c.data), &want); err != nil {
		tb.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("%s %s: data %v, want %v (answer %s)", im.name, c.path, got, want, answer)
	}
}

// TestAgree sends, over a real socket, valid and invalid parameters to
// every implementation and checks that all of them accept and refuse the
// same ones: the hand-written checks are the schema's rules, and each
// framework enforces the rules its tags state.
func TestAgree(t *testing.T) {
	items := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"sku":"AB-1","qty":1},`, n), ",") + "]"
	}
	order := func(customer, rest string) string {
		return `{"customer":` + customer + `,"items":` + rest + `}`
	}
	ada := `{"name":"Ada","email":"ada@example.com"}`
	cases := []struct {
		path, params string
		ok           bool
	}{
		{"/v1/greet", `{"name":"world","count":3}`, true},
		{"/v1/greet", `{"count":0,"name":"x"}`, true},
		{"/v1/greet", `{"name":"` + strings.Repeat("é", 64) + `","count":1000}`, true},
		{"/v1/greet", `{"name":"` + strings.Repeat("é", 65) + `","count":1}`, false},
		{"/v1/greet", `{"name":"` + strings.Repeat("a", 65) + `","count":1}`, false},
		{"/v1/greet", `{"name":"","count":3}`, false},
		{"/v1/greet", `{"name":"world","count":-1}`, false},
		{"/v1/greet", `{"name":"world","count":1001}`, false},
		{"/v1/greet", `{"name":"world"}`, false},
		{"/v1/greet", `{"count":3}`, false},
		{"/v1/greet", `{"name":"world","count":null}`, false},
		{"/v1/greet", `{"name":"world","count":"3"}`, false},
		{"/v1/greet", `{"name":"world","count":3.5}`, false},
		{"/v1/greet", `{"name":5,"count":3}`, false},
		{"/v1/greet", `{"name":"world","count":3,"extra":1}`, false},
		{"/v1/greet", `"world"`, false},
		{"/v1/order", calls[1].params, true},
		{"/v1/order", order(ada, items(1)), true},
		{"/v1/order", order(ada, items(50)), true},
		{"/v1/order", order(ada, items(51)), false},
		{"/v1/order", order(ada, `[]`), false},
		{"/v1/order", `{"customer":` + ada + `}`, false},
		{"/v1/order", `{"items":` + items(1) + `}`, false},
		{"/v1/order", order(ada, items(1)+`,"note":"thanks"`), true},
		{"/v1/order", order(ada, items(1)+`,"note":"`+strings.Repeat("n", 200)+`"`), true},
		{"/v1/order", order(ada, items(1)+`,"note":"`+strings.Repeat("n", 201)+`"`), false},
		{"/v1/order", order(ada, items(1)+`,"extra":true`), false},
		{"/v1/order", order(`{"name":"Ada","email":"ad"}`, items(1)), false},
		{"/v1/order", order(`{"name":"","email":"ada@example.com"}`, items(1)), false},
		{"/v1/order", order(`{"name":"Ada"}`, items(1)), false},
		{"/v1/order", order(`{"name":"Ada","email":"ada@example.com","x":1}`, items(1)), false},
		{"/v1/order", order(ada, `[{"sku":"ab-1","qty":1}]`), false},
		{"/v1/order", order(ada, `[{"sku":"AB1","qty":1}]`), false},
		{"/v1/order", order(ada, `[{"sku":"AB-1","qty":0}]`), false},
		{"/v1/order", order(ada, `[{"sku":"AB-1","qty":101}]`), false},
		{"/v1/order", order(ada, `[{"sku":"AB-1"}]`), false},
		{"/v1/order", order(ada, `[{"qty":1}]`), false},
		{"/v1/order", order(ada, `[{"sku":"AB-1","qty":1,"x":1}]`), false},
	}
	all, token := impls(t)
	for _, im := range all {
		if !im.strict {
			continue
		}
		srv := httptest.NewServer(im.h)
		t.Cleanup(srv.Close)
		for _, c := range calls {
			answer := post(t, srv, c.path, token, im.body(c.params))
			if answer.code != http.StatusOK {
				t.Fatalf("%s %s: answered %d: %s", im.name, c.path, answer.code, answer.body)
			}
			checkData(t, im, c, answer.body)
		}
		for _, c := range cases {
			a := post(t, srv, c.path, token, im.body(c.params))
			if c.ok && a.code != http.StatusOK || !c.ok && (a.code < 400 || a.code > 499) {
				t.Errorf("%s %s %s: answered %d, want ok=%v: %s", im.name, c.path, c.params, a.code, c.ok, a.body)
			}
		}
		for _, bad := range []string{"", "ses_unknown"} {
			if a := post(t, srv, "/v1/greet", bad, im.body(calls[0].params)); a.code != http.StatusUnauthorized {
				t.Errorf("%s: token %q answered %d, want 401: %s", im.name, bad, a.code, a.body)
			}
		}
	}
}

type answer struct {
	code int
	body []byte
}

func post(t *testing.T, srv *httptest.Server, path, token string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, b}
}

// BenchmarkCompare calls each method of each implementation, serially and
// in parallel, in process (no socket), after checking once that it answers
// the same data and refuses a bad input. Besides ns/op, B/op and allocs/op
// it reports cpu-ns/op, the process's CPU time per call: on a shared
// machine wall time stretches with the others' load, CPU time much less.
func BenchmarkCompare(b *testing.B) {
	all, token := impls(b)
	for _, c := range calls {
		for _, im := range all {
			verify(b, im, c, token)
		}
		for _, mode := range []struct {
			name string
			run  func(*testing.B, http.Handler, string, string, []byte)
		}{{"serial", benchSerial}, {"parallel", benchParallel}} {
			for _, im := range all {
				b.Run(c.name+"/"+mode.name+"/"+im.name, func(b *testing.B) {
					mode.run(b, im.h, c.path, token, im.body(c.params))
				})
			}
		}
	}
}

// benchSerial reuses one request, giving it a fresh body each call, so that
// only the handler's work is measured.
func benchSerial(b *testing.B, h http.Handler, path, token string, body []byte) {
	req := newRequest(path, token, nil)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := compare.ProcessCPU()
	for i := 0; i < b.N; i++ {
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	reportCPU(b, cpu)
}

// benchParallel is benchSerial in b.RunParallel, a request per goroutine.
func benchParallel(b *testing.B, h http.Handler, path, token string, body []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := compare.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		req := newRequest(path, token, nil)
		for pb.Next() {
			req.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	reportCPU(b, cpu)
}

func reportCPU(b *testing.B, start time.Duration) {
	if now := compare.ProcessCPU(); now > 0 {
		b.ReportMetric(float64(now-start)/float64(b.N), "cpu-ns/op")
	}
}
