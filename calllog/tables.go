package calllog

// tables names the module's tables, index and sequence under
// Options.TablePrefix.
type tables struct {
	prefix     string
	calls      string // the logged rows
	methods    string // the method numbers of calls
	stat1m     string // minute buckets
	stat10m    string // ten-minute buckets
	flushes    string // the flush marks
	flushMarks string // flushes AS fm, flushMark's table expression
	callIDs    string // PostgreSQL: the sequence of the ids of calls
	callsIndex string // calls' one index, (method, date, id)
	copy       string // the COPY statement that loads calls
}

// newTables returns the names under prefix, which CheckTablePrefix has
// accepted: the names need no quoting.
func newTables(prefix string) tables {
	t := tables{
		prefix:     prefix,
		calls:      prefix + "calllog_calls",
		methods:    prefix + "calllog_methods",
		stat1m:     prefix + "calllog_stat_1m",
		stat10m:    prefix + "calllog_stat_10m",
		flushes:    prefix + "calllog_flushes",
		callIDs:    prefix + "calllog_call_ids",
		callsIndex: prefix + "calllog_calls_method_date",
	}
	t.flushMarks = t.flushes + " AS fm"
	t.copy = copyStatement(t.calls)
	return t
}
