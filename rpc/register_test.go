package rpc_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// A permission tag that is neither built in nor declared is a mistake
// (a typo would leave the method to root alone): Register panics, naming
// the tag and the method. Declared tags, at New or later but before
// Register, are taken.
func TestRegisterRefusesUndeclaredPermissions(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
	ok := func(context.Context) error { return nil }

	for _, tags := range [][]string{{"admn"}, {auth.User, "admn"}, {""}, {"Admin"}} {
		tag := tags[len(tags)-1]
		assert.PanicsWithValue(t,
			`rpc: register /v1/reports/read: permission "`+tag+`" is not declared: declare it first, `+
				`such as rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "`+tag+`"})}`,
			func() { reg.Register(rpc.Method{ID: "/v1/reports/read", Permissions: tags, Handler: ok}) }, "%q", tags)
	}
	assert.Panics(t, func() {
		reg.Section("/v1/reports", "Reports").Register(rpc.Method{ID: "write", Permissions: []string{"reports"}, Handler: ok})
	}, "in a section too")
	assert.Empty(t, reg.Methods(), "nothing was registered")

	for i, tag := range []string{auth.Anyone, auth.Guest, auth.User, auth.Root, "admin"} {
		reg.Register(rpc.Method{ID: "/v1/tag/" + strconv.Itoa(i), Permissions: []string{tag}, Handler: ok})
	}
	assert.NoError(t, reg.Permissions().Declare(auth.Permission{Name: "reports"}))
	reg.Register(rpc.Method{ID: "/v1/reports/read", Permissions: []string{"reports", "admin"}, Handler: ok})
	a := rpctest.New(reg).Call(t, "/v1/reports/read")
	assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "registered, and guarded")
}
