package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDriveBare(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/api", bareHandler()))
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", "-url", srv.URL + "/api", "-c", "4", "-d", "300ms"}, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "errors 0,")
	assert.Contains(t, out.String(), "req/s")
}

func TestBadParamsCountAsErrors(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/api", bareHandler()))
	defer srv.Close()
	r, err := load(context.Background(), srv.Client(), srv.URL+"/api/v1/test/test", []byte(`[1]`), []string{"", ""}, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, r.Requests, r.Errors)
	assert.True(t, strings.Contains(r.String(), "errors"))
}
