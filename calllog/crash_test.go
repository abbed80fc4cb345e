package calllog_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// crashCase is a process logging calls at a steady rate that is then
// killed, or stopped with SIGTERM.
type crashCase struct {
	name     string
	rate     int           // calls a second
	duration time.Duration // how long they are made
	opts     calllog.Options
	signal   syscall.Signal
}

// bound is what kill -9 loses while the writer keeps up: the rows queued
// since it last took the queue, at most FlushInterval's worth or, when
// BatchSize rows fill sooner, one batch; plus the calls made while a write
// runs, which crashSlack stands for. Logged beside the measurement: on a
// loaded machine the writer falls behind, and then only QueueSize bounds it.
func (c crashCase) bound() int {
	opts := c.opts
	if opts.FlushInterval == 0 {
		opts.FlushInterval = calllog.DefaultFlushInterval
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = calllog.DefaultBatchSize
	}
	perInterval := int(float64(c.rate) * opts.FlushInterval.Seconds())
	return min(perInterval, opts.BatchSize) + int(float64(c.rate)*crashSlack.Seconds())
}

const crashSlack = 100 * time.Millisecond

// TestWhatACrashLoses measures the call-log rows lost when the process is
// killed under load: never more than Stats().Queued said were waiting (as
// calllog's doc says), which the options bound. SIGTERM, which closes the
// module, loses none.
func TestWhatACrashLoses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cases := []crashCase{
		{name: "kill -9, defaults", rate: 1000, duration: 1900 * time.Millisecond, signal: syscall.SIGKILL},
		{name: "kill -9, a batch fills first", rate: 2000, duration: 1500 * time.Millisecond,
			opts: calllog.Options{BatchSize: 200}, signal: syscall.SIGKILL},
		{name: "SIGTERM", rate: 1000, duration: 1500 * time.Millisecond, signal: syscall.SIGTERM},
	}
	for name, dsnOf := range map[string]func(testing.TB) string{"sqlite": storagetest.SQLiteDSN, "postgres": storagetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					dsn := dsnOf(t)
					pushed, queued := runCrashChild(t, dsn, c)
					stored := countRows(t, dsn)
					lost := pushed - stored
					t.Logf("%s: %d calls at %d/s, %d queued at the signal, %d rows stored, %d lost (bound while the writer keeps up: %d)",
						c.name, pushed, c.rate, queued, stored, lost, c.bound())
					require.GreaterOrEqual(t, lost, 0)
					if c.signal == syscall.SIGTERM {
						assert.Zero(t, lost, "SIGTERM closes the module, which writes every queued row")
					} else {
						assert.LessOrEqual(t, lost, queued, "only what waited is lost")
						assert.LessOrEqual(t, queued, calllog.DefaultQueueSize)
					}
				})
			}
		})
	}
}

// runCrashChild runs TestCrashChild in a process of its own, waits until it
// made its calls, signals it and answers how many calls it made and how many
// rows were queued then.
func runCrashChild(t *testing.T, dsn string, c crashCase) (pushed, queued int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"CALLLOG_CRASH_CHILD=1",
		"CALLLOG_CRASH_DSN="+dsn,
		"CALLLOG_CRASH_RATE="+strconv.Itoa(c.rate),
		"CALLLOG_CRASH_DURATION="+c.duration.String(),
		"CALLLOG_CRASH_BATCH="+strconv.Itoa(c.opts.BatchSize),
		"CALLLOG_CRASH_FLUSH="+c.opts.FlushInterval.String(),
	)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	pushed = -1
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "pushed %d queued %d", &pushed, &queued); err == nil {
			break
		}
	}
	require.GreaterOrEqual(t, pushed, 0, "the child never said how many calls it made; stderr:\n%s", stderr.String())
	require.NoError(t, cmd.Process.Signal(c.signal))
	go func() {
		for lines.Scan() { // drain, so that the child never blocks on stdout
		}
	}()
	err = cmd.Wait()
	if c.signal == syscall.SIGTERM {
		require.NoError(t, err, "stderr:\n%s", stderr.String())
	}
	return pushed, queued
}

func countRows(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COALESCE(SUM(n), 0) FROM calllog_batches").Scan(&n))
	return n
}

// TestCrashChild is the process TestWhatACrashLoses kills: it logs calls
// at a steady rate, says how many, and waits for a signal. On SIGTERM it
// closes the module, as a host's graceful shutdown does.
func TestCrashChild(t *testing.T) {
	if os.Getenv("CALLLOG_CRASH_CHILD") != "1" {
		t.Skip("run by TestWhatACrashLoses")
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	ctx := context.Background()
	rate, _ := strconv.Atoi(os.Getenv("CALLLOG_CRASH_RATE"))
	duration, _ := time.ParseDuration(os.Getenv("CALLLOG_CRASH_DURATION"))
	batch, _ := strconv.Atoi(os.Getenv("CALLLOG_CRASH_BATCH"))
	flush, _ := time.ParseDuration(os.Getenv("CALLLOG_CRASH_FLUSH"))

	db, err := storage.Open(ctx, os.Getenv("CALLLOG_CRASH_DSN"))
	require.NoError(t, err)
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
	mod, err := calllog.Mount(ctx, reg, db, calllog.Options{BatchSize: batch, FlushInterval: flush})
	require.NoError(t, err)

	start := time.Now()
	n := 0
	for {
		elapsed := time.Since(start)
		if elapsed >= duration {
			break
		}
		for due := int(float64(rate) * elapsed.Seconds()); n < due; n++ {
			mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: time.Now(), Runtime: time.Millisecond, Code: 200, StatusText: "OK"})
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintf(os.Stdout, "pushed %d queued %d\n", n, mod.Stats().Queued)

	<-term
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, mod.Close(cctx))
	require.NoError(t, db.Close())
}
