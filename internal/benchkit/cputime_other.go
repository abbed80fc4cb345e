//go:build !unix

package benchkit

import "time"

// ProcessCPU returns the CPU time the process has used; zero where the
// system does not tell, as here.
func ProcessCPU() time.Duration { return 0 }
