package static_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing/fstest"

	"github.com/authrpc/authrpc/internal/static"
)

func Example() {
	site, err := static.New(static.Options{
		Files: fstest.MapFS{ // an embed.FS in a real package
			"index.html": {Data: []byte(`<h1>{{.}}</h1>`)},
			"app.js":     {Data: []byte(`start()`)},
		},
		Data: "Admin",
		CSP:  "default-src 'self'",
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", site)

	for _, path := range []string{"/admin/users", "/admin/app.js"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(w.Code, w.Header().Get("Content-Security-Policy"), w.Body.String())
	}
	// Output:
	// 200 default-src 'self' <h1>Admin</h1>
	// 200 default-src 'self' start()
}
