package readsql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/readsql"
)

type book struct {
	bun.BaseModel `bun:"table:books"`
	ID            int64 `bun:",pk"`
	Title         string
	Year          int64
}

// A list method's handler applies the options it received to its query for
// the page, and their conditions alone to its count.
func ExampleApply() {
	dir, err := os.MkdirTemp("", "readsql-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "books.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.NewCreateTable().Model((*book)(nil)).Exec(ctx); err != nil {
		log.Fatal(err)
	}
	books := []book{
		{ID: 1, Title: "Go in practice", Year: 2019},
		{ID: 2, Title: "Going places", Year: 2021},
		{ID: 3, Title: "Gopher tales", Year: 2023},
		{ID: 4, Title: "Rust", Year: 2024},
	}
	if _, err := db.NewInsert().Model(&books).Exec(ctx); err != nil {
		log.Fatal(err)
	}

	spec := &read.Spec{Fields: []read.Field{
		{Name: "title", Conditions: []string{"like"}, Sortable: true},
		{Name: "year", Type: read.Integer, Conditions: []string{">="}, Sortable: true},
	}}
	// As a client sends them; like matches a substring, in any case.
	opts, err := spec.Parse(json.RawMessage(`{"where": {"title": ["like", "GO"]}, "order_by": ["year", "desc"], "limit": 2}`))
	if err != nil {
		log.Fatal(err)
	}

	var page []book
	if err := readsql.Apply(db.NewSelect().Model(&page), opts).Scan(ctx); err != nil {
		log.Fatal(err)
	}
	total, err := readsql.ApplyWhere(db.NewSelect().Model((*book)(nil)), opts).Count(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range page {
		fmt.Println(b.Year, b.Title)
	}
	fmt.Println("total:", total)
	// Output:
	// 2023 Gopher tales
	// 2021 Going places
	// total: 3
}
