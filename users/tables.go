package users

// tables names the module's tables under Options.TablePrefix. The models'
// bun tags carry the names without a prefix, so every query of a model
// names its table with ModelTableExpr and one of these: "app_users AS u",
// under the alias of the model's tag, which the queries' columns use.
type tables struct {
	prefix   string
	users    string // userRow's
	sessions string // sessionRow's
	tokens   string // tokenRow's: the one-time tokens sent by mail
	totp     string // totpRow's
	recovery string // recoveryRow's
}

// newTables returns the tables under prefix, which CheckTablePrefix has
// accepted: the names need no quoting.
func newTables(prefix string) tables {
	return tables{
		prefix:   prefix,
		users:    prefix + "users AS u",
		sessions: prefix + "user_sessions AS s",
		tokens:   prefix + "user_tokens AS ut",
		totp:     prefix + "user_totp AS ft",
		recovery: prefix + "user_recovery_codes AS rc",
	}
}
