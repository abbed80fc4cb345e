package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/tokens"
	"github.com/authrpc/authrpc/users"
)

type config struct {
	Addr         string
	DB           string
	RootPassword string
	Logger       *slog.Logger
	Out          io.Writer // where a generated root password is printed
}

// app is the example host: one registry with every module mounted.
type app struct {
	db    *bun.DB
	reg   *rpc.Registry
	users *users.Module
	calls *calllog.Module
}

func newApp(ctx context.Context, cfg config) (*app, error) {
	db, err := storage.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	perms := auth.NewPermissions(auth.Permission{
		Name:        "admin",
		Title:       "Administrator",
		Description: "Manages users, settings and the API call log.",
	})
	reg := rpc.New(rpc.Options{Logger: cfg.Logger, Permissions: perms})
	a := &app{db: db, reg: reg}
	if a.calls, err = calllog.Mount(ctx, reg, db, calllog.Options{}); err != nil {
		db.Close()
		return nil, err
	}
	settingsModule, err := settings.Mount(ctx, reg, db, settings.Options{})
	if err != nil {
		db.Close()
		return nil, err
	}
	a.users, err = users.Mount(ctx, reg, db, users.Options{RootPassword: cfg.RootPassword, Out: cfg.Out,
		SignupEnabled: settingsModule.SignupEnabled,
		Mailer:        settingsModule.Mailer(), AppURL: settingsModule.AppURL})
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := tokens.Mount(ctx, reg, db, a.users, tokens.Options{}); err != nil {
		_ = a.users.Close(ctx)
		db.Close()
		return nil, err
	}
	registerTestModule(reg)
	return a, nil
}

// Handler serves the API under /api/.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", a.reg))
	return mux
}

// Shutdown waits for background calls to finish.
func (a *app) Shutdown(ctx context.Context) error {
	if err := a.reg.Shutdown(ctx); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := a.calls.Close(ctx); err != nil { // writes the queued call log
		return err
	}
	if err := a.users.Close(ctx); err != nil {
		return err
	}
	return nil
}

func (a *app) Close() error { return a.db.Close() }
