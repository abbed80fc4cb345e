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
// Open fail once the connect timeout runs out, although Open's own context
// has no deadline. Which timeout applies (the default, the dsn's, or
// WithConnectTimeout's) is TestConnectTimeoutConfig.
func TestOpenBoundsConnecting(t *testing.T) {
	t.Parallel()
	p, dsn := throughProxy(t, nil)
	p.BlackHole()
	done := make(chan error, 1)
	go func() {
		db, err := storage.Open(context.Background(), dsn, storage.WithConnectTimeout(300*time.Millisecond))
		if err == nil {
			_ = db.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "ended by the connect timeout: %v", err)
	case <-time.After(eventWait):
		t.Fatalf("Open still waits for a silent server after %v", eventWait)
	}
}

// TestPoolOutlivesPartition: during a partition a query ends with its
// context and so does opening a new connection; once the network is back
// the pool serves again by itself.
func TestPoolOutlivesPartition(t *testing.T) {
	t.Parallel()
	p, dsn := throughProxy(t, nil)
	db, err := storage.Open(t.Context(), dsn, storage.WithConnectTimeout(time.Second))
	require.NoError(t, err)
	defer db.Close()
	query := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		var one int
		return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	}
	require.NoError(t, query(eventWait))

	p.BlackHole()
	for range 3 { // the pooled connection, then fresh ones
		// The connect timeout (a second) outlasts the query's deadline, so
		// only the query's context can end these.
		assert.ErrorIs(t, query(300*time.Millisecond), context.DeadlineExceeded, "ended with its context")
	}
	p.Restore()
	require.Eventually(t, func() bool {
		return query(time.Second) == nil
	}, eventWait, 50*time.Millisecond, "back by itself")
}
