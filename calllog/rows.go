package calllog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
)

// methodIDs maps the queue's method names, by their index, to their numbers
// in the methods table, which every instance sharing the database agrees on.
type methodIDs struct {
	ids []int64 // by queue index
}

// resolve numbers the names not numbered yet, adding those that
// the methods table does not hold. It runs outside the batch's transaction,
// so that a new method's row is there for every instance at once; two
// names that clean to the same text share a number.
func (m *methodIDs) resolve(ctx context.Context, db bun.IDB, t tables, names []string) error {
	if len(m.ids) >= len(names) {
		return nil
	}
	fresh := make([]string, 0, len(names)-len(m.ids))
	for _, n := range names[len(m.ids):] {
		fresh = append(fresh, cleanText(n))
	}
	for _, n := range fresh {
		_, err := db.ExecContext(ctx, "INSERT INTO ? (name) VALUES (?) ON CONFLICT (name) DO NOTHING", bun.Ident(t.methods), n)
		if err != nil {
			return fmt.Errorf("add method: %w", err)
		}
	}
	var stored []struct {
		ID   int64  `bun:"id"`
		Name string `bun:"name"`
	}
	err := db.NewSelect().TableExpr("?", bun.Ident(t.methods)).Column("id", "name").
		Where("name IN (?)", bun.List(fresh)).Scan(ctx, &stored)
	if err != nil {
		return fmt.Errorf("read method numbers: %w", err)
	}
	byName := make(map[string]int64, len(stored))
	for _, s := range stored {
		byName[s.Name] = s.ID
	}
	for _, n := range fresh {
		if _, ok := byName[n]; !ok {
			return fmt.Errorf("read method numbers: %q is missing", n)
		}
	}
	for _, n := range fresh {
		m.ids = append(m.ids, byName[n])
	}
	return nil
}

// answer is the row as read-log answers it.
func (r *packedRow) answer(method string) Row {
	date := time.UnixMicro(r.date).UTC()
	out := Row{
		ID:          r.id,
		MethodID:    method,
		Date:        date,
		Runtime:     float64(r.runtime) / float64(time.Millisecond),
		Status:      int(r.status),
		StatusText:  r.text,
		IsDeclined:  r.flags&flagDeclined != 0,
		IsError:     r.flags&flagError != 0,
		IsException: r.flags&flagException != 0,
		Started:     date,
		Finished:    date.Add(time.Duration(r.runtime)),
	}
	if !r.hasText {
		out.StatusText = rpc.StatusText(out.Status)
	}
	if r.user != 0 {
		user := r.user
		out.UserID = &user
	}
	if a := r.addr.String(); a != "" {
		out.RemoteAddress = &a
	}
	return out
}
