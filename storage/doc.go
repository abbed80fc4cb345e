// Package storage opens the database that the authrpc modules share,
// applies the schema migrations they contribute, and carries cache
// invalidations between the instances that share it.
//
// Open takes a DSN: a postgres:// or postgresql:// URL opens PostgreSQL (the
// production database, through pgx), anything else is a SQLite file (the
// embedded default, pure Go, no cgo) configured for concurrent use by a
// server. Both come back as a *bun.DB; IsPostgres tells a module which SQL
// dialect it is talking to where the two differ.
//
// Each module keeps its own ordered list of Migrations and calls Migrate
// with it at start-up. Migrate records what it applied in the table
// authrpc_migrations and is safe to run on every start and from several
// processes at once.
//
// IsUniqueViolation and IsForeignKeyViolation recognise constraint errors
// of both databases, so that a module can answer 409 for a duplicate key
// without knowing which one it runs on.
//
// A Sync lets the instances of a service that share the database tell each
// other to drop what they cached, and carries their events: on PostgreSQL
// over LISTEN/NOTIFY (a payload too big for a NOTIFY waits in the table
// authrpc_sync_payloads, which the Sync creates, and the NOTIFY carries its
// id), on SQLite within the process. auth.Mux.Share plugs the
// authenticator cache into one of its channels. (Package
// pubsub/natspubsub offers the same channels over NATS.)
//
// Limits keeps rate-limit buckets in the table authrpc_rate_limits, so that
// every instance on the database counts against one limit: each Limiter
// (one per limit, by name) takes an event with one atomic upsert, and fits
// auth.RateLimiter.
//
// A table prefix lets a host mount the modules beside tables of its own
// (a users table, say), or mount them twice on one database: every module
// takes a TablePrefix that goes before the name of each table, index and
// constraint it creates, and before its record table (WithTablePrefix:
// app_authrpc_migrations). CheckTablePrefix says what a prefix may hold,
// and Prefixed writes it into a module's SQL. LimitsOptions.TablePrefix
// and SyncOptions.ChannelPrefix do the same for the rate-limit table and
// the PostgreSQL channels, so that two prefixes share no state at all.
//
// The subpackage storagetest runs a test on SQLite and, when
// TEST_POSTGRES_DSN is set, on a fresh PostgreSQL database.
package storage
