package main

import (
	"strings"
	"testing"
)

// The table takes each benchmark's median over its runs and divides by the
// baseline of the same case and mode.
func TestTable(t *testing.T) {
	in := `goos: linux
BenchmarkCompare/flat/serial/hand-2   100  1000 ns/op  900 cpu-ns/op  2400 B/op  25 allocs/op
BenchmarkCompare/flat/serial/authrpc-2   100  1500 ns/op  1000 cpu-ns/op  2200 B/op  34 allocs/op
BenchmarkCompare/flat/serial/hand-2   100  3000 ns/op  950 cpu-ns/op  2400 B/op  25 allocs/op
BenchmarkCompare/flat/serial/authrpc-2   100  2500 ns/op  1900 cpu-ns/op  2200 B/op  34 allocs/op
BenchmarkCompare/flat/serial/hand-2   100  2000 ns/op  1000 cpu-ns/op  2400 B/op  25 allocs/op
BenchmarkCompare/flat/serial/authrpc-2   100  4000 ns/op  1100 cpu-ns/op  2200 B/op  34 allocs/op
BenchmarkCompare/nested/parallel/authrpc-2   100  5000 ns/op  2200 B/op  44 allocs/op
PASS
`
	rows, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	write(&out, rows, "hand")
	for _, want := range []string{
		"| flat/serial | hand | 2000 | 1.00 | 950 [900–1000] | 1.00 | 2400 | 25 | 3 |",
		"| flat/serial | authrpc | 2500 | 1.25 | 1100 [1000–1900] | 1.16 | 2200 | 34 | 3 |",
		"| nested/parallel | authrpc | 5000 |  | 0  |  | 2200 | 44 | 1 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
