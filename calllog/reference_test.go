package calllog_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/internal/referencetest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// TestReference renders the module's reference and compares it with the API
// v1 reference's section "Application API call log" (testdata, copied
// verbatim): method ids, titles, descriptions, permissions, parameter names
// and optionality, the apiRead block; the description that section lacks is
// added (referencetest.WithDescriptions).
func TestReference(t *testing.T) {
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})})
	mod, err := calllog.Mount(t.Context(), reg, storagetest.SQLite(t), calllog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mod.Close(context.Background()) })

	var got strings.Builder
	require.NoError(t, reg.WriteMarkdown(&got))
	want, err := os.ReadFile("testdata/seed_api_call_log.md")
	require.NoError(t, err)
	assert.Equal(t, referencetest.WithDescriptions(string(want), reg.Methods()), got.String())

	doc, err := reg.OpenAPI()
	require.NoError(t, err)
	for _, id := range []string{"read-log", "read-latest-stat", "read-history-stat"} {
		assert.Contains(t, string(doc), calllog.Prefix+"/"+id)
	}
}
