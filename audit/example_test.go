package audit_test

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// A host's own method records its change in the change's transaction.
func Example() {
	ctx := context.Background()
	db, err := storage.Open(ctx, "file:audit-example?mode=memory&cache=shared")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})})
	trail, err := audit.Mount(ctx, reg, db, audit.Options{})
	if err != nil {
		panic(err)
	}
	defer trail.Close(ctx)

	// The host's code, acting as user 7 (outside a call: no address).
	ctx = auth.NewContext(ctx, &auth.Principal{UserID: 7, Username: "ann"})
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// … the change itself …
		return trail.Record(ctx, tx, audit.Entry{
			Action:  "orders.refund",
			Target:  audit.ID(1234),
			Changes: map[string]any{"amount": 12, "card_token": "tok_secret"},
		})
	})
	if err != nil {
		panic(err)
	}
	var changes, kind string
	if err := db.NewSelect().Table("authrpc_audit").Column("changes", "actor_kind").Scan(ctx, &changes, &kind); err != nil {
		panic(err)
	}
	fmt.Println(kind, changes)
	// Output: host {"amount":12,"card_token":true}
}
