// Command benchtable reads `go test -bench` output on standard input and
// prints a Markdown table of BenchmarkCompare's results: for every case,
// mode and implementation, the median over the runs (-count) of ns/op,
// cpu-ns/op (with its least and greatest), B/op and allocs/op, with ns/op and cpu-ns/op also as a ratio
// to the baseline implementation of the same case and mode.
//
//	go test -run '^$' -bench . -benchtime 100000x -count 5 | tee bench.txt
//	go run ./cmd/benchtable -base hand < bench.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	base := flag.String("base", "hand", "the implementation ratios are taken to")
	flag.Parse()
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	write(os.Stdout, rows, *base)
}

// row is one benchmark: its group (case and mode), implementation, and every
// run's value of each unit.
type row struct {
	group, impl string
	runs        map[string][]float64
}

// line matches a result line, "BenchmarkX/a/b/impl-2   N   v unit   v unit…".
var line = regexp.MustCompile(`^Benchmark\S*?/(\S+)/([^/\s]+?)(?:-\d+)?\s+\d+\s+(.*)$`)

func parse(r io.Reader) ([]*row, error) {
	var rows []*row
	byName := map[string]*row{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := m[1] + "/" + m[2]
		rw := byName[key]
		if rw == nil {
			rw = &row{group: m[1], impl: m[2], runs: map[string][]float64{}}
			byName[key] = rw
			rows = append(rows, rw)
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", key, f[i], err)
			}
			rw.runs[f[i+1]] = append(rw.runs[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return rows, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func write(w io.Writer, rows []*row, base string) {
	baseline := map[string]*row{}
	for _, r := range rows {
		if r.impl == base {
			baseline[r.group] = r
		}
	}
	fmt.Fprintf(w, "| case/mode | impl | ns/op | x %s | cpu-ns/op [min–max] | x %s | B/op | allocs/op | runs |\n", base, base)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		ns, cpu := median(r.runs["ns/op"]), median(r.runs["cpu-ns/op"])
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %.0f %s | %s | %.0f | %.0f | %d |\n", r.group, r.impl,
			ns, ratio(ns, baseline[r.group], "ns/op"), cpu, spread(r.runs["cpu-ns/op"]),
			ratio(cpu, baseline[r.group], "cpu-ns/op"),
			median(r.runs["B/op"]), median(r.runs["allocs/op"]), len(r.runs["ns/op"]))
	}
}

// spread formats the least and greatest of v, or "" for fewer than two.
func spread(v []float64) string {
	if len(v) < 2 {
		return ""
	}
	return fmt.Sprintf("[%.0f–%.0f]", slices.Min(v), slices.Max(v))
}

// ratio formats v over the baseline's median of unit, or "" without one.
func ratio(v float64, b *row, unit string) string {
	if b == nil {
		return ""
	}
	d := median(b.runs[unit])
	if d == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", v/d)
}
