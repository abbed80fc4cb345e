//go:build !unix

package rpctest

import "time"

// ProcessCPU returns the CPU time the process has used; zero where the
// system does not tell, as here.
func ProcessCPU() time.Duration { return 0 }
