package calllog

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/authrpc/authrpc/rpc"
)

// The statistics answers are written straight from a statsGrid into one
// buffer, as encoding/json would write []MethodStats or MethodStats: a
// bucket's numbers are formatted once for its three series (buckets, load,
// requests), every date of the window once for all methods, and an empty
// bucket is copied from constants. The answer of every method's last hour
// at 500 methods is about 11 MB; encoding it through encoding/json cost
// more than reading it.

// windowDates are the dates of a window's buckets as JSON strings, from
// first on.
type windowDates struct {
	first int64
	dates []string
}

// datesFrom answers the dates of w's buckets from first, made once for
// every answer until the window moves.
func (w window) datesFrom(first int64) []string {
	if d := w.dates.Load(); d != nil && d.first == first {
		return d.dates
	}
	d := &windowDates{first: first, dates: make([]string, w.n)}
	var b []byte
	for j := range d.dates {
		b = append(b[:0], '"')
		b = time.Unix(first+int64(j)*w.step, 0).UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		d.dates[j] = string(b)
	}
	w.dates.Store(d)
	return d.dates
}

// The parts of a bucket of each series around its date and numbers.
const (
	emptyBucket  = `,"total_accepted":0,"total_declined":0,"total_errors":0,"total_exceptions":0,"exceptions_percent":0,"avg_runtime":0,"max_runtime":0}`
	emptyLoad    = `,"total_accepted":0,"total_declined":0}`
	emptyRequest = `,"exceptions_percent":0,"avg_runtime":0}`
	dateKey      = `{"date":`
)

// bucketSizeGuess is a generous size of what a stored bucket's numbers add
// to its three series beyond an empty bucket's; methodSizeGuess that of a
// method's keys, last_updated and bounds.
const (
	bucketSizeGuess = 120
	methodSizeGuess = 256
)

// statsEncoder writes a grid's methods into one buffer.
type statsEncoder struct {
	b       []byte
	dates   []string
	updated string // last_updated, a JSON string
	spans   []bucketSpans
}

// bucketSpans are where a bucket's formatted numbers are in the buffer,
// for the series that repeat them: load copies its counts ("total_accepted"
// and "total_declined" with their values), requests its percentage.
type bucketSpans struct {
	counts, percent [2]int
}

func newStatsEncoder(g *statsGrid, now time.Time) *statsEncoder {
	e := &statsEncoder{dates: g.w.datesFrom(g.first), spans: make([]bucketSpans, g.w.n)}
	// Sized for the whole answer, so that it is never copied to grow.
	emptyCell := 3*(len(dateKey)+len(e.dates[0])+1) + len(emptyBucket) + len(emptyLoad) + len(emptyRequest)
	size := len(g.cells)*emptyCell + g.nonEmpty*bucketSizeGuess + 2
	for _, id := range g.ids {
		size += methodSizeGuess + 2*len(id)
	}
	e.b = make([]byte, 0, size)
	b := now.UTC().AppendFormat([]byte{'"'}, time.RFC3339Nano)
	e.updated = string(append(b, '"'))
	return e
}

// method writes the statistics object of method i of g, with active's
// bounds and count when it is not nil.
func (e *statsEncoder) method(g *statsGrid, i int, active *rpc.ActiveCalls) {
	id := g.ids[i]
	cells := g.cells[i*g.w.n : (i+1)*g.w.n]
	e.b = append(e.b, `{"method_id":`...)
	e.b = appendJSONString(e.b, id)
	e.b = append(e.b, `,"buckets":[`...)
	for j := range cells {
		if j > 0 {
			e.b = append(e.b, ',')
		}
		e.bucket(j, &cells[j])
	}
	e.b = append(e.b, `],"id":`...)
	e.b = appendJSONString(e.b, id)
	e.b = append(e.b, `,"last_updated":`...)
	e.b = append(e.b, e.updated...)
	e.b = append(e.b, `,"load":[`...)
	for j := range cells {
		if j > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, dateKey...)
		e.b = append(e.b, e.dates[j]...)
		if s := e.spans[j].counts; s[1] > 0 {
			e.b = append(e.b, ',')
			e.b = append(e.b, e.b[s[0]:s[1]]...)
			e.b = append(e.b, '}')
		} else {
			e.b = append(e.b, emptyLoad...)
		}
	}
	e.b = append(e.b, `],"requests":[`...)
	for j := range cells {
		if j > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, dateKey...)
		e.b = append(e.b, e.dates[j]...)
		c := &cells[j]
		if c.accepted <= 0 {
			e.b = append(e.b, emptyRequest...)
			continue
		}
		s := e.spans[j].percent
		e.b = append(e.b, `,"exceptions_percent":`...)
		e.b = append(e.b, e.b[s[0]:s[1]]...)
		e.b = append(e.b, `,"avg_runtime":`...)
		e.b = appendJSONFloat(e.b, avgRuntimeMS(c)/1000)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
	if active != nil {
		e.b = append(e.b, `,"active_requests_limit":`...)
		e.b = strconv.AppendInt(e.b, int64(active.Limit), 10)
		e.b = append(e.b, `,"active_requests_user_limit":`...)
		e.b = strconv.AppendInt(e.b, int64(active.UserLimit), 10)
		e.b = append(e.b, `,"total_active_requests":`...)
		e.b = strconv.AppendInt(e.b, active.Total, 10)
	}
	e.b = append(e.b, '}')
}

// bucket writes bucket j, c, of the buckets series, and notes where its
// numbers are for the other series.
func (e *statsEncoder) bucket(j int, c *counts) {
	e.b = append(e.b, dateKey...)
	e.b = append(e.b, e.dates[j]...)
	if *c == (counts{}) {
		e.spans[j] = bucketSpans{}
		e.b = append(e.b, emptyBucket...)
		return
	}
	var s bucketSpans
	s.counts[0] = len(e.b) + 1
	e.b = append(e.b, `,"total_accepted":`...)
	e.b = strconv.AppendInt(e.b, c.accepted, 10)
	e.b = append(e.b, `,"total_declined":`...)
	e.b = strconv.AppendInt(e.b, c.declined, 10)
	s.counts[1] = len(e.b)
	e.b = append(e.b, `,"total_errors":`...)
	e.b = strconv.AppendInt(e.b, c.errors, 10)
	e.b = append(e.b, `,"total_exceptions":`...)
	e.b = strconv.AppendInt(e.b, c.exceptions, 10)
	e.b = append(e.b, `,"exceptions_percent":`...)
	if c.accepted <= 0 {
		// Declined calls alone: the averages are zeros.
		e.b = append(e.b, `0,"avg_runtime":0,"max_runtime":0}`...)
		e.spans[j] = s
		return
	}
	n := float64(c.accepted)
	s.percent[0] = len(e.b)
	e.b = appendJSONFloat(e.b, float64(c.exceptions)/n*100)
	s.percent[1] = len(e.b)
	e.b = append(e.b, `,"avg_runtime":`...)
	e.b = appendJSONFloat(e.b, avgRuntimeMS(c))
	e.b = append(e.b, `,"max_runtime":`...)
	e.b = appendJSONFloat(e.b, float64(c.runtimeMax)/float64(time.Millisecond))
	e.b = append(e.b, '}')
	e.spans[j] = s
}

// avgRuntimeMS is a bucket's average runtime in milliseconds; c.accepted
// is positive.
func avgRuntimeMS(c *counts) float64 {
	return float64(c.runtimeSum) / float64(c.accepted) / float64(time.Millisecond)
}

// latestJSON answers every method of g as a JSON array, each with the
// bounds on calls in flight and their count now that active tells (nil:
// none).
func latestJSON(g *statsGrid, now time.Time, active func(id string) *rpc.ActiveCalls) json.RawMessage {
	e := newStatsEncoder(g, now)
	e.b = append(e.b, '[')
	for i, id := range g.ids {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.method(g, i, active(id))
	}
	e.b = append(e.b, ']')
	return e.b
}

// historyJSON answers the one method of g as a JSON object.
func historyJSON(g *statsGrid, now time.Time) json.RawMessage {
	e := newStatsEncoder(g, now)
	e.method(g, 0, nil)
	return e.b
}

// appendJSONFloat appends f as encoding/json writes a float64 (f is
// finite): the shortest decimal that reads back as f, in exponent form
// below 1e-6 and from 1e21.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 as e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s as encoding/json writes a string: method ids
// are plain ASCII but for a rare one, which encoding/json writes.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
