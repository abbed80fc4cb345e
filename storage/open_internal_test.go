package storage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Opening a PostgreSQL connection is bounded by the option, else the dsn's
// connect_timeout, else PGCONNECT_TIMEOUT, else DefaultConnectTimeout.
// That the bound ends a connect to a silent server is
// TestOpenBoundsConnecting; which bound applies is checked here, without
// waiting for any of them.
func TestConnectTimeoutConfig(t *testing.T) {
	const dsn = "postgres://u@127.0.0.1:5432/db"
	for _, c := range []struct {
		name string
		dsn  string
		env  string // PGCONNECT_TIMEOUT; "" unset
		opts []Option
		want time.Duration
	}{
		{name: "default", dsn: dsn, want: DefaultConnectTimeout},
		{name: "WithConnectTimeout", dsn: dsn, opts: []Option{WithConnectTimeout(500 * time.Millisecond)}, want: 500 * time.Millisecond},
		{name: "connect_timeout in the dsn", dsn: dsn + "?connect_timeout=1", want: time.Second},
		{name: "WithConnectTimeout over the dsn's", dsn: dsn + "?connect_timeout=1", opts: []Option{WithConnectTimeout(3 * time.Second)}, want: 3 * time.Second},
		{name: "PGCONNECT_TIMEOUT", dsn: dsn, env: "7", want: 7 * time.Second},
		{name: "connect_timeout=0: no bound", dsn: dsn + "?connect_timeout=0", want: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("PGCONNECT_TIMEOUT", c.env)
			}
			cfg, _, err := postgresConfig(c.dsn, newConfig(c.opts))
			require.NoError(t, err)
			assert.Equal(t, c.want, cfg.ConnectTimeout)
		})
	}
}
