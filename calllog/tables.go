package calllog

// tables names the module's tables under Options.TablePrefix.
type tables struct {
	prefix     string
	batches    string // the logged rows, packed by method and write
	calls      string // the logged rows one by one, before schema version 4
	methods    string // the method numbers of batches
	stat1m     string // minute buckets
	stat10m    string // ten-minute buckets
	runtime1m  string // runtime bins by minute
	flushes    string // the flush marks
	flushMarks string // flushes AS fm, flushMark's table expression
}

// newTables returns the names under prefix, which CheckTablePrefix has
// accepted: the names need no quoting.
func newTables(prefix string) tables {
	t := tables{
		prefix:    prefix,
		batches:   prefix + "calllog_batches",
		calls:     prefix + "calllog_calls",
		methods:   prefix + "calllog_methods",
		stat1m:    prefix + "calllog_stat_1m",
		stat10m:   prefix + "calllog_stat_10m",
		runtime1m: prefix + "calllog_runtime_1m",
		flushes:   prefix + "calllog_flushes",
	}
	t.flushMarks = t.flushes + " AS fm"
	return t
}
