package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// TestReferenceMatchesSeed holds the app's rendered Markdown reference to the
// facts of the API v1 reference kept in testdata/seed_methods.txt: the same
// methods in the same order, with its permissions, parameter names and
// optionality. Any drift, a method added or renamed, a parameter made
// optional, fails here.
func TestReferenceMatchesSeed(t *testing.T) {
	t.Parallel()
	golden, err := os.ReadFile("../../testdata/seed_methods.txt")
	require.NoError(t, err)
	var want []string
	for _, line := range strings.Split(string(golden), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	require.NotEmpty(t, want)

	var out, errs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-db", storagetest.SQLiteDSN(t), "markdown"}, &out, &errs), errs.String())
	got := referenceFacts(t, out.String())
	assert.Equal(t, strings.Join(want, "\n"), strings.Join(got, "\n"))
}

var (
	callLine  = regexp.MustCompile(`api\.call\( "([^"]+)"`)
	permsLine = regexp.MustCompile(`\*\*Permissions:\*\* (.+)`)
	backticks = regexp.MustCompile("`([^`]+)`")
	paramLine = regexp.MustCompile("(?m)^-   \\*\\*`([^`]+)`\\*\\*")
)

// referenceFacts reads each method of a Markdown reference as the line the
// golden file holds: id, permission tags, parameters ("?" when optional).
func referenceFacts(t *testing.T, md string) []string {
	t.Helper()
	var facts []string
	for _, section := range strings.Split(md, "\n### ")[1:] {
		id := callLine.FindStringSubmatch(section)
		perms := permsLine.FindStringSubmatch(section)
		require.NotNil(t, id, "a method section without its call: %.80q", section)
		require.NotNil(t, perms, "a method section without permissions: %.80q", section)
		var tags []string
		for _, m := range backticks.FindAllStringSubmatch(perms[1], -1) {
			tags = append(tags, m[1])
		}
		var params []string
		for _, m := range paramLine.FindAllStringSubmatch(section, -1) {
			params = append(params, m[1])
		}
		p := strings.Join(params, " ")
		if p == "" {
			p = "-"
		}
		facts = append(facts, strings.Join([]string{id[1], strings.Join(tags, ","), p}, "\t"))
	}
	return facts
}
