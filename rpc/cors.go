package rpc

import (
	"net/http"
	"time"

	"github.com/rs/cors"
)

// DefaultCORSMaxAge is how long browsers may reuse a preflight's answer
// unless CORSOptions.MaxAge says otherwise.
const DefaultCORSMaxAge = 10 * time.Minute

// CORSOptions let browser front ends on other origins call the registry
// (Options.CORS). A preflight (an OPTIONS request with
// Access-Control-Request-Method) is answered 204 with no body; a request
// from an origin that is not allowed gets no CORS headers, so the browser
// keeps the answer from its page. github.com/rs/cors does the work.
type CORSOptions struct {
	// AllowedOrigins are the origins allowed, such as
	// "https://app.example.com"; one "*" in an entry stands for any text
	// ("https://*.example.com"), and an entry "*" allows every origin.
	// Default: none.
	AllowedOrigins []string

	// AllowOrigin, when set, decides instead of AllowedOrigins.
	AllowOrigin func(origin string) bool

	// AllowedHeaders are the request headers a page may send. Default:
	// Authorization, Content-Type, and the void-call headers
	// (X-API-Void-Call, API-Call-Void).
	AllowedHeaders []string

	// AllowedMethods are the HTTP methods a page may use. Default: GET, POST.
	AllowedMethods []string

	// ExposedHeaders are the response headers a page may read beyond the
	// simple ones. Default: WWW-Authenticate, which tells a call whose
	// bearer token did not authenticate.
	ExposedHeaders []string

	// MaxAge is how long a browser may reuse a preflight's answer (browsers
	// cap it: Chromium at 2 hours). Default: DefaultCORSMaxAge; negative:
	// not at all.
	MaxAge time.Duration

	// AllowCredentials lets pages send cookies and read the answers. The
	// origins must then be listed: browsers refuse credentials with "*".
	AllowCredentials bool
}

// newCORS returns the rs/cors handler for o, or nil for no CORS.
func newCORS(o *CORSOptions) *cors.Cors {
	if o == nil {
		return nil
	}
	c := cors.Options{
		AllowedOrigins:   o.AllowedOrigins,
		AllowOriginFunc:  o.AllowOrigin,
		AllowedHeaders:   o.AllowedHeaders,
		AllowedMethods:   o.AllowedMethods,
		ExposedHeaders:   o.ExposedHeaders,
		AllowCredentials: o.AllowCredentials,
	}
	if c.AllowOriginFunc == nil && len(c.AllowedOrigins) == 0 {
		// rs/cors takes no origins to mean all of them; ours means none.
		c.AllowOriginFunc = func(string) bool { return false }
	}
	if len(c.AllowedHeaders) == 0 {
		c.AllowedHeaders = []string{"Authorization", "Content-Type", HeaderVoidCall, headerVoidCallAlt}
	}
	if len(c.ExposedHeaders) == 0 {
		c.ExposedHeaders = []string{"WWW-Authenticate"}
	}
	if len(c.AllowedMethods) == 0 {
		c.AllowedMethods = []string{http.MethodGet, http.MethodPost}
	}
	switch {
	case o.MaxAge == 0:
		c.MaxAge = int(DefaultCORSMaxAge / time.Second)
	case o.MaxAge < 0:
		c.MaxAge = -1 // rs/cors sends "Access-Control-Max-Age: 0"
	default:
		c.MaxAge = max(1, int(o.MaxAge/time.Second))
	}
	return cors.New(c)
}

// servedCORS adds the CORS headers a request from another origin needs and
// answers a preflight; it reports whether it did (and the request is done).
func (r *Registry) servedCORS(w http.ResponseWriter, req *http.Request) bool {
	if r.cors == nil {
		return false
	}
	r.cors.HandlerFunc(w, req)
	return req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != ""
}
