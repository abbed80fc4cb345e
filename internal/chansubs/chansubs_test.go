package chansubs_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/internal/chansubs"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "auth", "settings_v2", strings.Repeat("x", chansubs.MaxName)} {
		assert.True(t, chansubs.ValidName(name), name)
	}
	for _, name := range []string{"", "Auth", "1auth", "_auth", "au th", "auth-x", "auth.x", "authé", strings.Repeat("x", chansubs.MaxName+1)} {
		assert.False(t, chansubs.ValidName(name), name)
	}
}

func TestSubscribers(t *testing.T) {
	t.Parallel()
	var p chansubs.Payloads
	p.Deliver("nobody hears it")
	var got []string
	p.Add(func(s string) { got = append(got, "1:"+s) })
	p.Add(func(s string) { got = append(got, "2:"+s) })
	p.Deliver("x")
	assert.Equal(t, []string{"1:x", "2:x"}, got)

	s := chansubs.NewStates(true)
	var told []bool
	s.Add(func(l bool) { told = append(told, l) })
	s.Set(true) // no change, nothing told
	s.Set(false)
	s.Set(false)
	s.Set(true)
	assert.Equal(t, []bool{true, false, true}, told)
	var zero chansubs.States
	zero.Add(func(l bool) { told = append(told, l) })
	assert.Equal(t, []bool{true, false, true, false}, told, "the zero value is not listening")
}
