package storage

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Applied is a set of migrations by module: the versions of each.
type Applied map[string][]int

// ReadApplied reads the migrations that db records in authrpc_migrations
// (after the prefix of WithTablePrefix; other options are ignored). A
// database that records none answers an empty set.
//
// Read right after every module has been mounted, it is the schema this
// process runs on (each Mount applies its module's migrations or fails), and
// Check then tells whether the database still has it: a health check's
// "migrations applied".
func ReadApplied(ctx context.Context, db bun.IDB, opts ...Option) (Applied, error) {
	cfg := newConfig(opts)
	if err := CheckTablePrefix(cfg.tablePrefix); err != nil {
		return nil, fmt.Errorf("storage: read applied migrations: %w", err)
	}
	table := cfg.tablePrefix + migrationsTable
	var rows []struct {
		Module  string `bun:"module"`
		Version int    `bun:"version"`
	}
	err := db.NewSelect().TableExpr("?", bun.Ident(table)).Column("module", "version").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("storage: read applied migrations from %s: %w", table, err)
	}
	out := Applied{}
	for _, r := range rows {
		out[r.Module] = append(out[r.Module], r.Version)
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

// Check answers nil when db records every migration of a, a
// *MissingMigrationsError naming those it lacks, or the error of reading
// them. Options are those of ReadApplied.
func (a Applied) Check(ctx context.Context, db bun.IDB, opts ...Option) error {
	have, err := ReadApplied(ctx, db, opts...)
	if err != nil {
		return err
	}
	missing := Applied{}
	for module, versions := range a {
		for _, v := range versions {
			if !slices.Contains(have[module], v) {
				missing[module] = append(missing[module], v)
			}
		}
	}
	if len(missing) > 0 {
		return &MissingMigrationsError{Missing: missing}
	}
	return nil
}

// MissingMigrationsError is Applied.Check's answer when the database lacks
// migrations: restored from an older backup, or another database behind the
// same address.
type MissingMigrationsError struct {
	Missing Applied
}

func (e *MissingMigrationsError) Error() string {
	var b strings.Builder
	b.WriteString("storage: migrations not applied:")
	for i, module := range slices.Sorted(maps.Keys(e.Missing)) {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" " + module)
		for j, v := range e.Missing[module] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + strconv.Itoa(v))
		}
	}
	return b.String()
}
