package auth

import (
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// Built-in permission tags. A method lists tags; a caller passing any one of them may call it.
const (
	Anyone = "*"     // every caller, guests included
	Guest  = "guest" // only callers who are not signed in
	User   = "user"  // any signed-in caller
	Root   = "root"  // the root user only
)

// Permission is a permission a host declares, such as "admin". Users hold
// declared permissions as a map {name: bool}.
type Permission struct {
	Name        string
	Title       string
	Description string
	// Default is whether a new user holds it unless told otherwise.
	Default bool
}

var permissionName = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// Permissions is the set of permissions declared by the host and its modules.
// It is safe for concurrent use.
type Permissions struct {
	mu     sync.RWMutex
	byName map[string]Permission
}

// NewPermissions returns a set holding the given permissions.
// It panics if one of them could not be declared; see Declare.
func NewPermissions(ps ...Permission) *Permissions {
	s := &Permissions{byName: make(map[string]Permission)}
	if err := s.Declare(ps...); err != nil {
		panic(err)
	}
	return s
}

// Declare adds permissions to the set. Declaring a name again replaces its
// title, description and default. The built-in tags cannot be declared.
func (s *Permissions) Declare(ps ...Permission) error {
	for _, p := range ps {
		switch {
		case p.Name == Anyone || p.Name == Guest || p.Name == User || p.Name == Root:
			return fmt.Errorf("auth: declare permission %q: the name is a built-in tag", p.Name)
		case !permissionName.MatchString(p.Name):
			return fmt.Errorf("auth: declare permission %q: a name is 1-64 of a-z, 0-9, _ . : - and starts with a letter", p.Name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName == nil {
		s.byName = make(map[string]Permission)
	}
	for _, p := range ps {
		s.byName[p.Name] = p
	}
	return nil
}

// Lookup returns the declared permission with the given name.
func (s *Permissions) Lookup(name string) (Permission, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.byName[name]
	return p, ok
}

// List returns the declared permissions sorted by name.
func (s *Permissions) List() []Permission {
	s.mu.RLock()
	list := make([]Permission, 0, len(s.byName))
	for _, p := range s.byName {
		list = append(list, p)
	}
	s.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Defaults returns the permissions a new user holds unless told otherwise.
func (s *Permissions) Defaults() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := make(map[string]bool)
	for name, p := range s.byName {
		if p.Default {
			m[name] = true
		}
	}
	return m
}

// All returns every declared permission set to true: what root holds.
func (s *Permissions) All() map[string]bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := make(map[string]bool, len(s.byName))
	for name := range s.byName {
		m[name] = true
	}
	return m
}

// CheckTag returns an error naming tag unless it is a built-in tag
// (Anyone, Guest, User, Root) or a declared permission: a method guarded by
// a tag nobody can hold would be open to root alone.
func (s *Permissions) CheckTag(tag string) error {
	switch tag {
	case Anyone, Guest, User, Root:
		return nil
	}
	if _, ok := s.Lookup(tag); !ok {
		return fmt.Errorf("permission %q is not declared: declare it first, such as rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: %q})}", tag, tag)
	}
	return nil
}

// Undeclared returns a name in perms that is not declared, if there is one.
func (s *Permissions) Undeclared(perms map[string]bool) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for name := range perms {
		if _, ok := s.byName[name]; !ok {
			return name, true
		}
	}
	return "", false
}

// Apply returns what is held after a change: the declared permissions old
// holds, overlaid with change (with replace, change alone). Only true
// entries are kept, so that equal sets compare equal. Check change with
// Undeclared first: Apply takes its names as they are.
func (s *Permissions) Apply(old, change map[string]bool, replace bool) map[string]bool {
	next := make(map[string]bool)
	if !replace {
		s.mu.RLock()
		for name, on := range old {
			if _, ok := s.byName[name]; ok && on {
				next[name] = true
			}
		}
		s.mu.RUnlock()
	}
	for name, on := range change {
		if on {
			next[name] = true
		} else {
			delete(next, name)
		}
	}
	return next
}
