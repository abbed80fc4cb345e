// Package readsql applies the read options of a list method (package
// rpc/read) to a bun select query, the same way on SQLite and PostgreSQL:
//
//	var rows []userRow
//	q := readsql.Apply(db.NewSelect().Model(&rows), opts)
//	total, err := readsql.ApplyWhere(db.NewSelect().Model((*userRow)(nil)), opts).Count(ctx)
//
// Fields become the columns their read.Field declares and values become
// bound arguments: nothing from the request is written into SQL as text.
// "like" matches a substring, case-insensitively for ASCII letters on
// SQLite and for all of Unicode on PostgreSQL (ILIKE), with %, _ and \
// matching themselves. Nulls sort last ascending and first descending on
// both databases, as PostgreSQL sorts them.
//
// A read.Time field is compared with a bound time.Time. SQLite has no time
// type and compares text, so there the column must hold times as bun writes
// them (UTC, "2006-01-02 15:04:05.999999+00:00"), which it does for
// time.Time fields of bun models.
package readsql
