package referencetest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/internal/referencetest"
	"github.com/authrpc/authrpc/rpc"
)

func TestWithDescriptionsAddsWhatIsMissingOnce(t *testing.T) {
	t.Parallel()
	section := "## Things\n\n### Read\n\n<!-- tabs:start -->\ncode\n<!-- tabs:end -->\n\nPermissions\n" +
		"\n### Write\n\n<!-- tabs:start -->\ncode\n<!-- tabs:end -->\n\nWrites.\n\nPermissions\n"
	methods := []rpc.MethodInfo{
		{Title: "Read", Description: "Reads."},
		{Title: "Write", Description: "Writes."}, // already there
		{Title: "Gone", Description: "Not in the section."},
	}
	want := "## Things\n\n### Read\n\n<!-- tabs:start -->\ncode\n<!-- tabs:end -->\n\nReads.\n\nPermissions\n" +
		"\n### Write\n\n<!-- tabs:start -->\ncode\n<!-- tabs:end -->\n\nWrites.\n\nPermissions\n"
	got := referencetest.WithDescriptions(section, methods)
	assert.Equal(t, want, got)
	assert.Equal(t, want, referencetest.WithDescriptions(got, methods))
}
