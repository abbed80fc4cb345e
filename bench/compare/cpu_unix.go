//go:build unix

package compare

import (
	"syscall"
	"time"
)

// ProcessCPU returns the CPU time the process has used so far, in user and
// system mode across all its threads; zero where the system does not tell.
func ProcessCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
