package read

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// checkString says what a string value must be, or "" if it is fine.
// NUL is refused because PostgreSQL text cannot hold it (and bun will not
// format it).
func checkString(s string) string {
	if len(s) > maxStringBytes {
		return fmt.Sprintf("a string of at most %d bytes", maxStringBytes)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "a string without NUL characters"
	}
	return ""
}

// typedValue converts a non-null value to the field's type, or says what
// was expected.
func typedValue(f *Field, v *node) (any, string) {
	switch f.valueType() {
	case String:
		if v.kind != kindString {
			return nil, "a string"
		}
		if what := checkString(v.s); what != "" {
			return nil, what
		}
		return v.s, ""
	case Integer:
		const what = "an integer (64-bit)"
		if v.kind != kindNumber {
			return nil, what
		}
		n, err := parseInt(v.s)
		if err != nil {
			return nil, what
		}
		return n, ""
	case Number:
		const what = "a finite number"
		if v.kind != kindNumber {
			return nil, what
		}
		x, err := strconv.ParseFloat(v.s, 64)
		if err != nil || math.IsInf(x, 0) {
			return nil, what
		}
		return x, ""
	case Boolean:
		if v.kind != kindBool {
			return nil, "a boolean"
		}
		return v.b, ""
	case Time:
		const what = "a time (an RFC 3339 string)"
		if v.kind != kindString || len(v.s) > 64 {
			return nil, what
		}
		t, err := time.Parse(time.RFC3339Nano, v.s)
		if err != nil {
			return nil, what
		}
		return t.UTC(), ""
	case ID:
		const what = "an id (a string of digits)"
		switch v.kind {
		case kindString:
			if v.s == "" || strings.TrimLeft(v.s, "0123456789") != "" {
				return nil, what
			}
		case kindNumber:
		default:
			return nil, what
		}
		n, err := parseInt(v.s)
		if err != nil || n < 0 {
			return nil, what
		}
		return n, ""
	}
	return nil, "a value of a known type"
}

var errNotInteger = errors.New("not an integer")

// parseInt parses a JSON number written as a plain integer. Exponent and
// fraction forms (1e2, 100.0) are refused: JSON.stringify never writes a safe
// integer that way, and evaluating exponents invites huge allocations.
// A too large value reports strconv.ErrRange.
func parseInt(s string) (int64, error) {
	if s == "" || strings.ContainsAny(s, ".eE") {
		return 0, errNotInteger
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, strconv.ErrRange
		}
		return 0, errNotInteger
	}
	return n, nil
}
