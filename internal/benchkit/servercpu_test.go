package benchkit_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The backends of the test's own database are found and their CPU time
// read; on SQLite there are none, and the sample is empty.
func TestSampleServerCPU(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		before := benchkit.SampleServerCPU(t.Context(), db)
		if !storage.IsPostgres(db) {
			assert.Empty(t, before)
			return
		}
		if runtime.GOOS != "linux" {
			t.Skip("SampleServerCPU reads /proc, which only Linux has")
		}
		require.NotEmpty(t, before, "no backend of the test database found in /proc: is PostgreSQL on this machine?")
		for pid, cpu := range before {
			assert.Positive(t, pid)
			assert.GreaterOrEqual(t, cpu, time.Duration(0))
		}
	})
}
