package oauth_test

import (
	"context"
	"fmt"
	"log"

	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// A host mounts the flow with a provider in Go; signing in with the code is
// the users module's (users.Options.OAuth).
func Example() {
	ctx := context.Background()
	db, err := storage.Open(ctx, "file:oauth-example?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg := rpc.New(rpc.Options{})
	m, err := oauth.Mount(ctx, reg, db, oauth.Options{
		Config: oauth.Config{
			Providers: map[string]oauth.Provider{
				"github": {Type: oauth.TypeGitHub, ClientID: "Iv1.0123456789", ClientSecret: "…"},
				// "corp": {Type: oauth.TypeOIDC, Issuer: "https://login.example.com", ClientID: "…", ClientSecret: "…"},
			},
			RedirectURLs: []string{"https://app.example.com/oauth/callback"},
		},
		// Source: settingsModule.OAuth, for providers an administrator sets.
	})
	if err != nil {
		log.Fatal(err)
	}
	providers, _ := m.Providers(ctx)
	fmt.Println(providers)
	_, err = m.AuthURL(ctx, "github", "https://evil.example/")
	fmt.Println(err)
	// Output:
	// [{github github}]
	// oauth: redirect URL "https://evil.example/" is not one the host allows
}
