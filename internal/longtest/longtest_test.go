package longtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/internal/longtest"
)

func TestSkipFollowsTheEnvironment(t *testing.T) {
	t.Setenv(longtest.Env, "")
	assert.False(t, longtest.Enabled())
	ran := false
	t.Run("off", func(t *testing.T) {
		longtest.Skip(t, "waits a minute")
		ran = true
	})
	assert.False(t, ran, "skipped without AUTHRPC_LONG")

	t.Setenv(longtest.Env, "1")
	assert.True(t, longtest.Enabled())
	t.Run("on", func(t *testing.T) {
		longtest.Skip(t, "waits a minute")
		ran = true
	})
	assert.True(t, ran, "run with AUTHRPC_LONG=1")
}
