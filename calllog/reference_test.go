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

// The fields read-log's where takes beyond the API v1 reference's.
const moreLogFields = `        status:
            type: integer
            conditions:
                - "="
                - "!="
                - in
                - not in
        user_id:
            type: string
            conditions:
                - "="
                - "!="
                - in
                - not in
        date_from:
            type: string
            conditions:
                - ">="
                - ">"
        date_to:
            type: string
            conditions:
                - "<"
                - "<="
        is_error:
            type: boolean
            conditions:
                - "="
        is_declined:
            type: boolean
            conditions:
                - "="
        is_exception:
            type: boolean
            conditions:
                - "="
        remote_address:
            type: string
            conditions:
                - "="
                - "!="
`

// TestReference renders the module's reference and compares it with the API
// v1 reference's section "Application API call log" (testdata, copied
// verbatim): method ids, titles, descriptions, permissions, parameter names
// and optionality, the apiRead block; the description that section lacks is
// added (referencetest.WithDescriptions). Beyond it are read-log's filters
// (moreLogFields) and the method read-overview, last.
func TestReference(t *testing.T) {
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})})
	mod, err := calllog.Mount(t.Context(), reg, storagetest.SQLite(t), calllog.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mod.Close(context.Background()) })

	var b strings.Builder
	require.NoError(t, reg.WriteMarkdown(&b))
	got := b.String()
	const overview = "Read an overview of every method for the last 60 minutes"
	tocLine := "-   [" + overview + "](#read-an-overview-of-every-method-for-the-last-60-minutes)\n"
	require.Contains(t, got, tocLine)
	got = strings.Replace(got, tocLine, "", 1)
	at := strings.Index(got, "\n### "+overview+"\n")
	require.Positive(t, at)
	section := got[at:]
	got = got[:at]
	assert.Contains(t, section, `api.call( "/v1/admin/api-call-log/read-overview" );`)
	assert.Contains(t, section, "**Permissions:** `admin`")

	seed, err := os.ReadFile("testdata/seed_api_call_log.md")
	require.NoError(t, err)
	const required = "            required: true\n"
	want := strings.Replace(string(seed), required, required+moreLogFields, 1)
	require.NotEqual(t, string(seed), want)
	assert.Equal(t, referencetest.WithDescriptions(want, reg.Methods()), got)

	doc, err := reg.OpenAPI()
	require.NoError(t, err)
	for _, id := range []string{"read-log", "read-latest-stat", "read-history-stat", "read-overview"} {
		assert.Contains(t, string(doc), calllog.Prefix+"/"+id)
	}
}
