// Package clockcheck holds one test: no test of the module may compare an
// elapsed wall-clock time with a bound (assert.Less(t, time.Since(start),
// time.Second), if elapsed > 2*time.Second, and the like). Such a bound
// fails on a loaded machine for nothing; a test waits for the event
// instead, with a generous deadline, or moves a fake clock, and speed is
// measured by benchmarks. See the README's section on the tests.
package clockcheck
