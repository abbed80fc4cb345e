package users_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/referencetest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// TestEmailMethodsReference renders the reference and compares the four email
// methods of the Session section with the API v1 reference's text (testdata,
// copied verbatim): ids, titles, permissions, parameter names and
// descriptions, schemas; the method descriptions that text lacks are added
// (referencetest.WithDescriptions).
func TestEmailMethodsReference(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t))
	var b strings.Builder
	require.NoError(t, e.reg.WriteMarkdown(&b))
	doc := b.String()

	start := strings.Index(doc, "### Send confirmation email\n")
	require.GreaterOrEqual(t, start, 0, "no Send confirmation email section")
	got := doc[start:]
	if end := strings.Index(got, "\n## "); end >= 0 {
		got = got[:end]
	}
	want, err := os.ReadFile("testdata/seed_session_email.md")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(referencetest.WithDescriptions("\n"+string(want), e.reg.Methods())), strings.TrimSpace(got))

	for _, line := range []string{
		"-   [Send confirmation email](#send-confirmation-email)",
		"-   [Confirm user email using email confirmation token](#confirm-user-email-using-email-confirmation-token)",
		"-   [Send password reset email](#send-password-reset-email)",
		"-   [Set user password using password recovery token](#set-user-password-using-password-recovery-token)",
	} {
		assert.Contains(t, doc, line+"\n")
	}
}
