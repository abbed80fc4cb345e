// Package benchkit holds what this module's benchmarks share: the
// hand-written handlers a registry is measured against (BareHandler,
// HandWritten), loops that POST one body to a handler (Post, PostParallel),
// the process's CPU time per operation (ProcessCPU, ReportCPU), which
// swings less than wall time on a machine shared with other work, and that
// of the PostgreSQL backends serving a database on this machine
// (SampleServerCPU).
//
// It is internal: the yardsticks are this module's, not a host's.
package benchkit
