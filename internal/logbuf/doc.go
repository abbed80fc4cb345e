// Package logbuf holds Buffer, an io.Writer that tests hand to a logger
// (or anything else that writes from several goroutines) and read back to
// assert what was written.
package logbuf
