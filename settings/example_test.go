package settings_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
)

// A host mounts the module with fields of its own and reads them, with the
// built-in ones, without a database round trip.
func ExampleMount() {
	dir, err := os.MkdirTemp("", "settings-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	type Branding struct {
		SiteName string `json:"site_name" jsonschema:"maxLength=100"`
		Theme    string `json:"theme" jsonschema:"enum=light,enum=dark"`
	}
	reg := rpc.New(rpc.Options{
		Logger:      slog.New(slog.DiscardHandler),
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
	})
	mod, err := settings.Mount(ctx, reg, db, settings.Options{
		Extra: &Branding{SiteName: "Acme", Theme: "light"}, // the defaults
	})
	if err != nil {
		log.Fatal(err)
	}

	// users.Options{SignupEnabled: mod.SignupEnabled} asks this at each signup.
	open, _ := mod.SignupEnabled(ctx)
	s, _ := mod.Get(ctx)
	var b Branding
	if err := s.Extra(&b); err != nil {
		log.Fatal(err)
	}
	fmt.Println(open, s.SMTPPort, b.SiteName, b.Theme)
	// Output:
	// false 587 Acme light
}

// A host keeps the SMTP password (and its own secret fields) encrypted in
// the database with a key from its environment; the old key stays in the
// ring while a rotation runs.
func ExampleParseKeyring() {
	current := settings.GenerateKey() // in production: os.Getenv("AUTHRPC_SETTINGS_KEY")
	keys, err := settings.ParseKeyring(current)
	if err != nil {
		log.Fatal(err) // not base64 of 32 bytes
	}
	fmt.Println(len(keys.KeyID()))

	// Rotating: the new key encrypts, both decrypt; then mod.Reencrypt(ctx)
	// rewrites what the old key encrypted, and the old key can go.
	rotating, err := settings.ParseKeyring(settings.GenerateKey(), current)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rotating.KeyID() != keys.KeyID())
	// Output:
	// 8
	// true
}
