package settings

import (
	"encoding/json"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// mailRoute are the settings that decide where the users module's mail and
// its links go.
var mailRoute = []string{keyAppURL, keySMTPHostname, keySMTPPort, keySMTPUsername, keySMTPPassword}

// checkMailRoute refuses an update made with an API token that changes
// where mail goes. The password reset mail carries a token that sets a
// password: a token that could point SMTP (or the links) at its holder's
// server could reset its own user's password through it, and so trade
// itself for a session, which the users module refuses it to do directly.
// Other settings stay within a token's reach.
func checkMailRoute(caller *auth.Principal, in map[string]json.RawMessage) *rpc.Error {
	if caller.Kind != auth.KindAPIToken {
		return nil
	}
	for _, key := range mailRoute {
		if _, ok := in[key]; ok {
			return rpc.Forbidden("an API token cannot change %s: it decides where password reset mail goes; sign in with a password and use the session", key)
		}
	}
	return nil
}
