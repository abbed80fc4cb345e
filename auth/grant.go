package auth

import (
	"errors"
	"fmt"
	"slices"
)

// ErrGrant is what every *GrantError is (errors.Is): a change of
// permissions the caller may not make.
var ErrGrant = errors.New("auth: permission change not allowed")

// GrantError is a change of permissions refused by CheckGrant or
// CheckChange, naming the first permission at fault (in name order).
type GrantError struct {
	// Permission is the permission the caller may not change.
	Permission string
	// Revoke is true when the change takes it away, false when it gives it.
	Revoke bool
	// ByToken is true when the caller holds the permission but the call was
	// made with an API token, which grants nothing.
	ByToken bool
}

func (e *GrantError) Error() string {
	switch {
	case e.ByToken:
		return fmt.Sprintf("auth: an API token cannot grant permissions (here %q)", e.Permission)
	case e.Revoke:
		return fmt.Sprintf("auth: may not revoke permission %q: the caller does not hold it", e.Permission)
	}
	return fmt.Sprintf("auth: may not grant permission %q: the caller does not hold it", e.Permission)
}

// Is makes every GrantError match ErrGrant.
func (e *GrantError) Is(target error) bool { return target == ErrGrant }

// CheckGrant returns a *GrantError unless p may change what a holder (a
// user, an API token) holds from `from` to `to` (maps of permission names;
// only true entries count). p grants only permissions it holds itself, and
// a call made with an API token grants none: a leaked token could
// otherwise mint a successor, a user or token holding its permissions that
// outlives its revocation. Taking permissions away is not checked; see
// CheckChange. Permissions are checked in name order, holding first, so
// the error names the same one every time.
func CheckGrant(p *Principal, from, to map[string]bool) error {
	return checkGrant(p, from, to, false)
}

// CheckChange is CheckGrant that also refuses taking away a permission p
// does not hold: the rule for administering other users, where only a
// holder of a permission decides who else holds it.
func CheckChange(p *Principal, from, to map[string]bool) error {
	return checkGrant(p, from, to, true)
}

func checkGrant(p *Principal, from, to map[string]bool, revokes bool) error {
	names := changed(from, to)
	for _, name := range names {
		revoke := from[name]
		if (revokes || !revoke) && !p.Has(name) {
			return &GrantError{Permission: name, Revoke: revoke}
		}
	}
	if p != nil && p.Kind == KindAPIToken {
		for _, name := range names {
			if !from[name] {
				return &GrantError{Permission: name, ByToken: true}
			}
		}
	}
	return nil
}

// changed lists, in name order, the permissions held in one of from and to
// but not in the other.
func changed(from, to map[string]bool) []string {
	var names []string
	for name, on := range from {
		if on && !to[name] {
			names = append(names, name)
		}
	}
	for name, on := range to {
		if on && !from[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
