package storage

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// PostgreSQL SQLSTATE codes.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// IsUniqueViolation reports whether err (or an error it wraps) is a
// duplicate key: a unique or primary key constraint failed. Modules turn it
// into a 409.
func IsUniqueViolation(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgUniqueViolation
	}
	if code, ok := sqliteCode(err); ok {
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err (or an error it wraps) is a
// failed foreign key constraint: a reference to a missing row, or a delete
// of a row that is still referenced.
func IsForeignKeyViolation(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgForeignKeyViolation
	}
	if code, ok := sqliteCode(err); ok {
		return code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

func pgCode(err error) (string, bool) {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}

// sqliteCode returns the extended result code; the driver turns extended
// codes on for every connection.
func sqliteCode(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}
