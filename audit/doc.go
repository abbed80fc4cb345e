// Package audit keeps the audit trail: every administrative and credential
// change, with who made it (the user, and the session or API token it came
// with), what it changed (the action, the target, the fields set; secrets
// never), from which client address and user agent, its result and when.
// Package storage's Auditor is its contract, so that the modules whose
// changes it records do not import it.
//
// Mount it, then hand it to each module that records changes:
//
//	trail, err := audit.Mount(ctx, reg, db, audit.Options{})
//	u, err := users.Mount(ctx, reg, db, users.Options{Audit: trail})
//	_, err = tokens.Mount(ctx, reg, db, u, tokens.Options{}) // takes the users module's
//	_, err = settings.Mount(ctx, reg, db, settings.Options{Audit: trail})
//
// A change's entry is written by Record in the change's own transaction,
// so the trail holds an entry if and only if the change committed. A
// change refused by the rules (deleting oneself, granting a permission one
// lacks, setting root's password) is recorded too, through the database,
// with the refusal as its result; input that fails validation changes
// nothing and is left to the call log.
//
// A host's own methods record their changes the same way:
//
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		// … the change …
//		return trail.Record(ctx, tx, audit.Entry{Action: "orders.refund", Target: id, Changes: map[string]any{"amount": 12}})
//	})
//
// /v1/admin/audit/read(options) (Options.Permission, default "admin")
// answers the entries newest first, filtered by actor_id, target_id and
// action ("=") and by created ("<", ">"; a range as created_from and
// created_to), in pages of at most 100. Entries
// older than Options.Retention (365 days) are deleted every
// Options.CleanupInterval (an hour).
package audit
