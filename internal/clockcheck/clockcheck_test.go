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

// The pattern catches the shapes it is meant to (testdata/caught.txt, a
// line each), and not the waits that replace them (testdata/fine.txt). The
// samples live in testdata so that the walk above, and any other check of
// test files, does not read them as the test's own assertions.
func TestWallClockBoundPattern(t *testing.T) {
	t.Parallel()
	for _, bad := range samples(t, "caught.txt") {
		if !wallClockBound.MatchString(bad) {
			t.Errorf("not caught: %s", bad)
		}
	}
	for _, fine := range samples(t, "fine.txt") {
		if wallClockBound.MatchString(fine) {
			t.Errorf("caught, but fine: %s", fine)
		}
	}
}

func samples(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 5 {
		t.Fatalf("%s: %d samples; the file is cut short", name, len(lines))
	}
	return lines
}
