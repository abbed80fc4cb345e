package users_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// TestEmailMethodsReference renders the reference and compares the four
// email methods of the Session section with the seed's text (testdata,
// copied verbatim): ids, titles, permissions, parameter names and
// descriptions, schemas; the method descriptions the seed lacks are added
// (withDescriptions).
func TestEmailMethodsReference(t *testing.T) {
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
	assert.Equal(t, strings.TrimSpace(withDescriptions("\n"+string(want), e.reg.Methods())), strings.TrimSpace(got))

	for _, line := range []string{
		"-   [Send confirmation email](#send-confirmation-email)",
		"-   [Confirm user email using email confirmation token](#confirm-user-email-using-email-confirmation-token)",
		"-   [Send password reset email](#send-password-reset-email)",
		"-   [Set user password using password recovery token](#set-user-password-using-password-recovery-token)",
	} {
		assert.Contains(t, doc, line+"\n")
	}
}

// withDescriptions adds to a seed section the descriptions the module gives
// methods the seed left undescribed, where the reference puts them: after
// the method's tabs.
func withDescriptions(seed string, methods []rpc.MethodInfo) string {
	for _, m := range methods {
		d := strings.TrimSpace(m.Description)
		head := strings.Index(seed, "\n### "+m.Title+"\n")
		if d == "" || head < 0 {
			continue
		}
		const tabsEnd = "<!-- tabs:end -->\n"
		at := head + strings.Index(seed[head:], tabsEnd) + len(tabsEnd)
		if !strings.HasPrefix(seed[at:], "\n"+d+"\n") {
			seed = seed[:at] + "\n" + d + "\n" + seed[at:]
		}
	}
	return seed
}
