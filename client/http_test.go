package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/client"
)

// answers is a server that answers every request with ct and body.
func answers(t *testing.T, ct, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// What a server that does not speak the wire format answers is an error
// that is not a *client.Error, and the client reads no more of it than
// MaxMessageBytes.
func TestHTTPAnswersOutsideTheFormat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name, ct, body, want string
	}{
		{"too large", "application/json", `{"jsonrpc":"2.0","result":{"status":200,"data":"` + strings.Repeat("x", 2000) + `"}}`, "larger than 1000 bytes"},
		{"not JSON", "application/json", `<html>`, "not a JSON-RPC message"},
		{"not JSON-RPC 2.0", "application/json", `{"result":{"status":200}}`, "not JSON-RPC 2.0"},
		{"neither result nor error", "application/json", `{"jsonrpc":"2.0"}`, "neither a result nor an error"},
		{"malformed error", "application/json", `{"jsonrpc":"2.0","error":"boom"}`, "malformed error"},
		{"not MessagePack", "application/msgpack", "\xc1", "decode MessagePack"},
		{"another content type", "text/html", `<html>`, `Content-Type "text/html"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(answers(t, tc.ct, tc.body), client.Options{MaxMessageBytes: 1000})
			require.NoError(t, err)
			_, err = c.Call(ctx, "/v1/x")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, client.Code(err), "not an answer of the format")
		})
	}
}

// An error answer without data or meta still gives a usable *Error.
func TestHTTPErrorAnswer(t *testing.T) {
	t.Parallel()
	c, err := client.New(answers(t, "application/json", `{"jsonrpc":"2.0","error":{"code":404,"message":"user \"x\" not found"}}`), client.Options{})
	require.NoError(t, err)
	_, err = c.Call(context.Background(), "/v1/x")
	var e *client.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 404, e.Code)
	assert.Equal(t, `user "x" not found`, e.Message)
	assert.NotNil(t, e.Meta)
	assert.Equal(t, `client: /v1/x: 404 user "x" not found`, e.Error())
}
