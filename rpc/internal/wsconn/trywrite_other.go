//go:build !unix

package wsconn

import "syscall"

// tryWrite writes nothing where a descriptor cannot be written without
// waiting: the caller's goroutine writes it all.
func tryWrite(syscall.RawConn, []byte) (int, error) { return 0, nil }
