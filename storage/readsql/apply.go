package readsql

import (
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage"
)

// Apply adds the options' conditions, order, limit and offset to q.
// It panics when o has conditions or an order but was not made by a
// read.Spec, or names a field its spec does not declare: such options did
// not come from a request.
func Apply(q *bun.SelectQuery, o read.Options) *bun.SelectQuery {
	q = ApplyWhere(q, o)
	sqlite := q.Dialect().Name() == dialect.SQLite
	for _, ord := range o.OrderBy {
		col := bun.Ident(columns(field(o, ord.Field))[0])
		// Nulls sort as PostgreSQL sorts them (last ascending), so that both
		// databases give the same pages.
		switch {
		case ord.Desc && sqlite:
			q = q.OrderExpr("? DESC NULLS FIRST", col)
		case ord.Desc:
			q = q.OrderExpr("? DESC", col)
		case sqlite:
			q = q.OrderExpr("? ASC NULLS LAST", col)
		default:
			q = q.OrderExpr("? ASC", col)
		}
	}
	if o.Limit > 0 {
		q = q.Limit(int64(o.Limit))
	}
	if o.Offset > 0 {
		q = q.Offset(int64(o.Offset))
	}
	return q
}

// ApplyWhere adds only the options' conditions to q (for counts and custom
// queries), as one parenthesized group joined to q's other conditions by AND.
//
// "!=" and "not in" also match rows whose column is NULL, as a client
// filtering on "not this value" expects; the other comparisons never match NULL.
func ApplyWhere(q *bun.SelectQuery, o read.Options) *bun.SelectQuery {
	if len(o.Where) == 0 {
		return q
	}
	likeOp := "LIKE"
	if q.Dialect().Name() == dialect.PG {
		likeOp = "ILIKE"
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, c := range o.Where {
			q = where(q, field(o, c.Field), c, likeOp)
		}
		return q
	})
}

// field returns the declaration of a field o names.
func field(o read.Options, name string) *read.Field {
	spec := o.Spec()
	if spec == nil {
		panic("readsql: read.Options with conditions or order were not made by a read.Spec")
	}
	f := spec.Field(name)
	if f == nil {
		panic(fmt.Sprintf("readsql: read.Options name field %q that their spec does not declare", name))
	}
	return f
}

// columns returns the columns a field reads: Columns, else Column, else its name.
func columns(f *read.Field) []string {
	if len(f.Columns) > 0 {
		return f.Columns
	}
	if f.Column != "" {
		return []string{f.Column}
	}
	return []string{f.Name}
}

func where(q *bun.SelectQuery, f *read.Field, c read.Condition, likeOp string) *bun.SelectQuery {
	cols := columns(f)
	col := bun.Ident(cols[0])
	switch c.Op {
	case "=":
		if c.Value == nil {
			return q.Where("? IS NULL", col)
		}
		return q.Where("? = ?", col, c.Value)
	case "!=":
		if c.Value == nil {
			return q.Where("? IS NOT NULL", col)
		}
		return q.Where("(? IS NULL OR ? <> ?)", col, col, c.Value)
	case "<", ">", "<=", ">=":
		return q.Where("? "+c.Op+" ?", col, c.Value)
	case "in":
		return q.Where("? IN (?)", col, bun.List(c.Value))
	case "not in":
		return q.Where("(? IS NULL OR ? NOT IN (?))", col, col, bun.List(c.Value))
	case "like":
		s, _ := c.Value.(string)
		return like(q, cols, s, likeOp)
	}
	panic(fmt.Sprintf("readsql: read.Options hold unknown operator %q", c.Op))
}

// like matches s anywhere in any of cols. SQLite's LIKE folds case for
// ASCII letters only (no ICU in the pure-Go build); PostgreSQL's ILIKE folds
// all of Unicode.
func like(q *bun.SelectQuery, cols []string, s, likeOp string) *bun.SelectQuery {
	pattern := "%" + storage.EscapeLike(s) + "%"
	var sql strings.Builder
	args := make([]any, 0, 2*len(cols))
	sql.WriteByte('(')
	for i, name := range cols {
		if i > 0 {
			sql.WriteString(" OR ")
		}
		sql.WriteString("? " + likeOp + ` ? ESCAPE '\'`)
		args = append(args, bun.Ident(name), pattern)
	}
	sql.WriteByte(')')
	return q.Where(sql.String(), args...)
}
