package clockcheck_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wallClockBound matches a comparison of elapsed time with a bound: a
// testify comparison whose first value is an elapsed time, or an
// operator between one and a duration.
var wallClockBound = regexp.MustCompile(`((Less|Greater|LessOrEqual|GreaterOrEqual|InDelta|WithinDuration)\(t, *(time\.Since|elapsed|took|dur\b|d,))` +
	`|((time\.Since\([^)]*\)|elapsed|took)[[:space:]]*[<>]=?[[:space:]]*[0-9]*[[:space:]]*\*?[[:space:]]*time\.)`)

func TestNoWallClockBounds(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	self, err := filepath.Abs("clockcheck_test.go")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if abs, _ := filepath.Abs(path); abs == self {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for line, text := range matches(t, path) {
			t.Errorf("%s:%d: a wall-clock bound (wait for the event, or move a fake clock): %s", rel, line, strings.TrimSpace(text))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// matches returns the lines of path that wallClockBound matches, by
// line number.
func matches(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := map[int]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if wallClockBound.MatchString(sc.Text()) {
			found[n] = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return found
}

// The pattern catches the shapes it is meant to, and not the waits that
// replace them.
func TestWallClockBoundPattern(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`assert.Less(t, time.Since(start), 5*time.Second)`,
		`require.Less(t, time.Since(start), time.Second, "still allowed")`,
		`assert.GreaterOrEqual(t, elapsed, timeout-10*time.Millisecond)`,
		`assert.Less(t, took, 800*time.Millisecond, "ended with its context")`,
		`require.WithinDuration(t, d, time.Now(), time.Second)`,
		`if elapsed > 2*time.Second {`,
		`if time.Since(start) >= time.Minute {`,
		`if took < time.Millisecond {`,
	} {
		if !wallClockBound.MatchString(bad) {
			t.Errorf("not caught: %s", bad)
		}
	}
	for _, fine := range []string{
		`case <-time.After(eventWait):`,
		`t.Logf("closed after %v", time.Since(start))`,
		`assert.Equal(t, 2*time.Second, retry)`,
		`waited := clock.Next(t)`,
		`assert.True(t, waited >= backoff/2 && waited <= backoff)`,
	} {
		if wallClockBound.MatchString(fine) {
			t.Errorf("caught, but fine: %s", fine)
		}
	}
}
