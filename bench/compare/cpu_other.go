//go:build !unix

package compare

import "time"

// ProcessCPU returns zero: this system does not tell a process its CPU time
// here.
func ProcessCPU() time.Duration { return 0 }
