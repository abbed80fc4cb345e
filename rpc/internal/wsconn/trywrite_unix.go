//go:build unix

package wsconn

import (
	"errors"
	"syscall"
)

// tryWrite writes what of b the connection takes now, without waiting:
// one write(2) on its non-blocking descriptor.
func tryWrite(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				break
			}
		}
		if errors.Is(werr, syscall.EAGAIN) {
			n, werr = 0, nil
		}
		return true // done, whatever was taken: never wait here
	})
	if n < 0 {
		n = 0
	}
	if err == nil {
		err = werr
	}
	return n, err
}
