package benchkit

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strconv"
	"time"
)

// ServerCPU is the CPU time (user and system) that each PostgreSQL backend
// serving one database had used when it was sampled, by process id.
type ServerCPU map[int]time.Duration

// clockTick is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// querier runs a query; a *bun.DB and a *sql.DB fit.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SampleServerCPU reads, from /proc, the CPU time of the backends connected
// to db's database (autovacuum workers on it included). It works when the
// server runs on this machine and this process may read its /proc entries;
// otherwise it returns an empty sample. The server's shared processes (WAL
// writer, checkpointer) are not counted. Benchmarks report the difference of
// two samples, since a benchmark's own process time leaves the server's out.
func SampleServerCPU(ctx context.Context, db querier) ServerCPU {
	out := ServerCPU{}
	rows, err := db.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return ServerCPU{}
		}
		if d, ok := processCPU(pid); ok {
			out[pid] = d
		}
	}
	if rows.Err() != nil {
		return ServerCPU{}
	}
	return out
}

// Since is the CPU time the backends used between before and s; a backend
// that ended in between is missing from s and not counted.
func (s ServerCPU) Since(before ServerCPU) time.Duration {
	var d time.Duration
	for pid, now := range s {
		d += now - before[pid]
	}
	return d
}

// processCPU reads utime and stime, the 14th and 15th fields of
// /proc/<pid>/stat, counted after the command name in parentheses (which
// may hold spaces).
func processCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, false
	}
	fields := bytes.Fields(raw[end+1:])
	// fields[0] is the 3rd field (state), so utime and stime are 11 and 12.
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// ProcCPU is the CPU time (user and system) process pid has used, read from
// /proc/<pid>/stat, in its clock ticks (10 ms); false where that cannot be
// read. A load generator in a child process is not in its parent's time.
func ProcCPU(pid int) (time.Duration, bool) { return processCPU(pid) }
