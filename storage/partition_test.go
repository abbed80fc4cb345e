package storage_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// throughProxy returns a fresh PostgreSQL database's DSN pointed at a proxy
// in front of its server, with the query changed by set. It skips without
// TEST_POSTGRES_DSN.
func throughProxy(t *testing.T, set map[string]string) (*tcpproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(storagetest.PostgresDSN(t))
	require.NoError(t, err)
	p := tcpproxy.New(t, u.Host)
	u.Host = p.Addr()
	q := u.Query()
	for k, v := range set {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return p, u.String()
}

// TestOpenBoundsConnecting: a server that accepts and never answers makes
// Open fail within the connect timeout: the default, the dsn's own, or
// WithConnectTimeout's.
func TestOpenBoundsConnecting(t *testing.T) {
	cases := []struct {
		name string
		dsn  map[string]string
		opts []storage.Option
		want time.Duration
	}{
		{"WithConnectTimeout", nil, []storage.Option{storage.WithConnectTimeout(500 * time.Millisecond)}, 500 * time.Millisecond},
		{"connect_timeout in the dsn", map[string]string{"connect_timeout": "1"}, nil, time.Second},
		{"default", nil, nil, storage.DefaultConnectTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, dsn := throughProxy(t, c.dsn)
			p.BlackHole()
			start := time.Now()
			db, err := storage.Open(context.Background(), dsn, c.opts...)
			took := time.Since(start)
			if err == nil {
				_ = db.Close()
			}
			require.Error(t, err)
			assert.GreaterOrEqual(t, took, c.want-100*time.Millisecond)
			assert.Less(t, took, c.want+time.Second, "failed within the connect timeout")
		})
	}
}

// TestPoolOutlivesPartition: during a partition a query ends with its
// context and so does opening a new connection; once the network is back
// the pool serves again by itself.
func TestPoolOutlivesPartition(t *testing.T) {
	p, dsn := throughProxy(t, nil)
	db, err := storage.Open(t.Context(), dsn, storage.WithConnectTimeout(time.Second))
	require.NoError(t, err)
	defer db.Close()
	query := func(d time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		start := time.Now()
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		return time.Since(start), err
	}
	_, err = query(time.Second)
	require.NoError(t, err)

	p.BlackHole()
	for range 3 { // the pooled connection, then fresh ones
		took, err := query(300 * time.Millisecond)
		require.Error(t, err)
		assert.Less(t, took, 800*time.Millisecond, "ended with its context")
	}
	p.Restore()
	require.Eventually(t, func() bool {
		_, err := query(time.Second)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "back by itself")
}
