package tokens_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/referencetest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/tokens"
)

// The API v1 reference shows read's options as a bare object; the module
// declares them as read options, rendered in the apiRead layout as users'
// read is.
const (
	seedOptions = "-   **`options?`** <Object\\>\n\n" +
		"    <!-- prettier-ignore -->\n    ```yaml\n    type: object\n    ```\n"
	ourOptions = "-   **`options?`** <undefined\\>\n\n" +
		"    <!-- prettier-ignore -->\n    ```yaml\n" +
		"    apiRead:\n" +
		"        id:\n            type: string\n            conditions:\n                - \"=\"\n            sortable: true\n" +
		"        name:\n            type: string\n            conditions:\n                - \"=\"\n                - like\n            sortable: true\n" +
		"        enabled:\n            type: boolean\n            conditions:\n                - \"=\"\n            sortable: true\n" +
		"        created:\n            sortable: true\n" +
		"    ```\n"
)

// TestReference renders the module's section of the reference and compares
// it with the API v1 reference's section "API access tokens" (testdata, copied
// verbatim): method ids, titles, permissions, parameter names, optionality
// and types; only read's options differ, as above, and the descriptions the
// section lacks are added (referencetest.WithDescriptions).
func TestReference(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), tokens.Options{})
	var doc strings.Builder
	require.NoError(t, e.reg.WriteMarkdown(&doc))
	_, section, found := strings.Cut(doc.String(), "\n## API access tokens\n")
	require.True(t, found, doc.String())
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i] // up to the blank line before the next module
	}

	seed, err := os.ReadFile("testdata/seed_api_tokens.md")
	require.NoError(t, err)
	want := strings.TrimPrefix(string(seed), "## API access tokens\n")
	require.Contains(t, want, seedOptions)
	want = strings.Replace(want, seedOptions, ourOptions, 1)
	want = referencetest.WithDescriptions(want, e.reg.Methods())
	assert.Equal(t, want, section)

	api, err := e.reg.OpenAPI()
	require.NoError(t, err)
	for _, id := range []string{"read", "create", "delete", "set-enabled", "get-permissions", "set-permissions", "update-permissions"} {
		assert.Contains(t, string(api), `"`+tokens.Prefix+"/"+id+`"`)
	}
}
