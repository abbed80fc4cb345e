package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// Set CONSOLE_SCREENSHOTS=1 to write a screenshot of each page of the console
// into docs/console.
const screenshotsEnv = "CONSOLE_SCREENSHOTS"

// chromium finds Debian's chromium. Without it the browser tests skip, and
// say so, except under CI=true, where they fail: CI installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI must install it (apt-get install -y chromium)")
	}
	t.Skip("SKIPPED: chromium is not installed; the console's browser tests did not run (apt-get install -y chromium)")
	return ""
}

// browser is one headless chromium with a fresh profile, and the errors its
// pages report: console.error, uncaught exceptions, failed loads and CSP
// violations.
type browser struct {
	alloc context.Context
	mu    sync.Mutex
	errs  []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "authrpc-chromium-")
	require.NoError(t, err)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(profile),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(func() {
		cancel()
		removeProfile(t, profile)
	})
	return &browser{alloc: alloc}
}

// removeProfile removes a browser's profile directory once the browser has
// ended. Chromium's helper processes can still write to it for a moment
// after the browser process is gone (t.TempDir's one RemoveAll then failed
// with "directory not empty"), so this tries for a few seconds.
func removeProfile(t *testing.T, dir string) {
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err = os.RemoveAll(dir); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Errorf("removing the browser profile: %v", err)
	}
}

// tab opens a page of its own (its own sessionStorage, so its own sign-in).
// The first tab starts the browser.
func (b *browser) tab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	var opts []chromedp.ContextOption
	if parent == nil {
		parent = b.alloc
		opts = append(opts, chromedp.WithErrorf(func(format string, args ...any) {
			// This chromedp knows fewer DOM events than this chromium sends.
			if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "unhandled node event") {
				t.Log(msg)
			}
		}))
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Error()
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError || ev.Entry.Level == log.LevelWarning {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errs = append(b.errs, msg)
			b.mu.Unlock()
		}
	})
	require.NoError(t, chromedp.Run(ctx, log.Enable(), runtime.Enable()))
	return ctx
}

func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// byLabel is the input that the label with this text names.
func byLabel(text string) string {
	return fmt.Sprintf(`//label[normalize-space(text())=%q]/following-sibling::input | //label[normalize-space(.)=%q]/input`, text, text)
}

// fill sets the value of the input that the label names, as typing would:
// listeners of input and change run.
func fill(label, value string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`(() => {
		const l = [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === %q);
		const el = l.control;
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, label, value), nil)
}

func button(text string) string {
	return fmt.Sprintf(`//button[normalize-space(.)=%q]`, text)
}

// browse runs actions with a deadline, so that a missing element fails the test
// instead of hanging it.
func browse(t *testing.T, ctx context.Context, d time.Duration, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	require.NoError(t, chromedp.Run(ctx, actions...))
}

// waitJS polls expr in the page until it is true.
func waitJS(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingInterval(100*time.Millisecond))
}

func signInActions(base string) []chromedp.Action {
	return signInAs(base, "root", "root-password-for-tests", "Users")
}

// signInAs signs in by the labelled fields and waits for the page link.
func signInAs(base, name, password, link string) []chromedp.Action {
	return []chromedp.Action{
		chromedp.Navigate(base),
		chromedp.WaitVisible(byLabel("Username"), chromedp.BySearch),
		// By keyboard: the name, Tab to the password, Enter submits.
		chromedp.Click(byLabel("Username"), chromedp.BySearch),
		chromedp.SendKeys(byLabel("Username"), name+"\t", chromedp.BySearch),
		chromedp.SendKeys(byLabel("Password"), password+"\r", chromedp.BySearch),
		chromedp.WaitVisible(fmt.Sprintf(`//nav/a[text()=%q]`, link), chromedp.BySearch),
	}
}

type shooter struct {
	dir string
}

func newShooter(t *testing.T) shooter {
	if os.Getenv(screenshotsEnv) == "" {
		return shooter{}
	}
	dir := filepath.Join("..", "..", "docs", "console")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return shooter{dir: dir}
}

func (s shooter) shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if s.dir == "" {
		return
	}
	var png []byte
	browse(t, ctx, 10*time.Second, chromedp.Sleep(300*time.Millisecond), chromedp.CaptureScreenshot(&png))
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644))
}

func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	shots := newShooter(t)
	rootToken := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, rootToken, "/v1/admin/users/create", `[{"username":"bob.api","password":"bob-password-1"}]`).code())

	one := b.tab(t, nil)
	browse(t, one, 20*time.Second, chromedp.Navigate(base), chromedp.WaitVisible(button("Sign in"), chromedp.BySearch))
	shots.shot(t, one, "signin")
	browse(t, one, 20*time.Second, signInActions(base)...)

	t.Run("users", func(t *testing.T) {
		browse(t, one, 20*time.Second,
			chromedp.WaitVisible(`tr[data-user="bob.api"]`), // created over the API
			chromedp.SendKeys(byLabel("New user name"), "alice", chromedp.BySearch),
			chromedp.SendKeys(byLabel("Initial password"), "alice-password-1", chromedp.BySearch),
			chromedp.Click(button("Create user"), chromedp.BySearch),
			chromedp.WaitVisible(`tr[data-user="alice"]`),
			chromedp.SendKeys(byLabel("Search"), "bob", chromedp.BySearch),
			waitJS(`!document.querySelector('tr[data-user="alice"]') && !!document.querySelector('tr[data-user="bob.api"]')`),
			fill("Search", "ali"),
			waitJS(`!document.querySelector('tr[data-user="bob.api"]') && !!document.querySelector('tr[data-user="alice"]')`),
			chromedp.Click(`button[aria-label="Permissions of alice"]`),
			chromedp.WaitVisible(`dialog input[name="admin"]`),
			chromedp.Click(`dialog input[name="admin"]`),
			chromedp.Click(`//dialog`+button("Save permissions"), chromedp.BySearch),
			chromedp.WaitNotPresent(`dialog`),
		)
		got := a.call(t, rootToken, "/v1/admin/users/get-permissions", `["alice"]`)
		require.Equal(t, 200, got.code(), got.Raw)
		assert.Contains(t, string(got.Result.Data), `"enabled":true`, "alice holds admin after the console granted it")

		// A refusal shows the server's message: "x" is no valid user name.
		a.call(t, rootToken, "/v1/admin/users/create", `[{"username":"carol","password":"carol-password-1"}]`)
		browse(t, one, 20*time.Second,
			fill("Search", "carol"),
			chromedp.WaitVisible(`tr[data-user="carol"]`),
			chromedp.Click(`button[aria-label="Rename carol"]`),
			chromedp.WaitVisible(`dialog`),
			fill("New name", "x"),
			chromedp.Click(`//dialog`+button("Rename"), chromedp.BySearch),
			waitJS(`(document.querySelector('dialog p.error')?.textContent || '').length > 0`),
			chromedp.Click(`//dialog`+button("Cancel"), chromedp.BySearch),
			// Disable, enable and delete carol.
			chromedp.Click(`button[aria-label="Disable carol"]`),
			chromedp.WaitVisible(`button[aria-label="Enable carol"]`),
			chromedp.Click(`button[aria-label="Enable carol"]`),
			chromedp.WaitVisible(`button[aria-label="Disable carol"]`),
			chromedp.Click(`button[aria-label="Delete carol"]`),
			chromedp.Click(`//dialog`+button("Delete"), chromedp.BySearch),
			chromedp.WaitNotPresent(`tr[data-user="carol"]`),
			fill("Search", ""),
			chromedp.WaitVisible(`tr[data-user="alice"]`),
		)
		shots.shot(t, one, "users")
	})

	t.Run("tokens", func(t *testing.T) {
		var token string
		browse(t, one, 20*time.Second,
			chromedp.Click(`//nav/a[text()="API tokens"]`, chromedp.BySearch),
			chromedp.SendKeys(byLabel("Token name"), "deploy", chromedp.BySearch),
			chromedp.Click(button("Create token"), chromedp.BySearch),
			chromedp.WaitVisible(`#new-token`),
			chromedp.Text(`#new-token`, &token),
			chromedp.WaitVisible(`tr[data-token="deploy"]`),
			chromedp.Click(`button[aria-label="Permissions of token deploy"]`),
			chromedp.Click(`dialog input[name="admin"]`),
			chromedp.Click(`//dialog`+button("Save permissions"), chromedp.BySearch),
			chromedp.WaitNotPresent(`dialog`),
		)
		// The token shown works, with the permission the console gave it.
		got := a.call(t, strings.TrimSpace(token), "/v1/admin/users/read", `[]`)
		assert.Equal(t, 200, got.code(), got.Raw)
		shots.shot(t, one, "tokens")
	})

	t.Run("settings on a second session", func(t *testing.T) {
		two := b.tab(t, one)
		browse(t, two, 20*time.Second, signInActions(base)...)
		browse(t, two, 20*time.Second, chromedp.Navigate(base+"#/settings"), chromedp.WaitVisible(byLabel("App URL"), chromedp.BySearch))
		browse(t, one, 20*time.Second,
			chromedp.Click(`//nav/a[text()="Settings"]`, chromedp.BySearch),
			chromedp.WaitVisible(byLabel("App URL"), chromedp.BySearch),
			chromedp.SendKeys(byLabel("App URL"), "https://console.example.com", chromedp.BySearch),
			chromedp.Click(byLabel("Signup enabled"), chromedp.BySearch),
			chromedp.Click(button("Save"), chromedp.BySearch),
			waitJS(`document.getElementById('notice').textContent === 'Settings saved.'`),
		)
		browse(t, two, 10*time.Second, waitJS(`document.querySelector('input[name="app_url"]').value === 'https://console.example.com' &&
			document.querySelector('input[name="signup_enabled"]').checked`))
		got := a.call(t, rootToken, "/v1/admin/settings/read", `[]`)
		assert.Contains(t, string(got.Result.Data), `"signup_enabled":true`, "the click opened signup, closed by default")
		shots.shot(t, one, "settings")

		// Test SMTP with the form's values: nothing listens there, and the
		// server's message is shown.
		browse(t, one, 20*time.Second,
			fill("SMTP host name", "127.0.0.1"),
			fill("SMTP port", "1"),
			chromedp.Click(button("Test SMTP"), chromedp.BySearch),
			waitJS(`document.getElementById('notice').className === 'error' && document.getElementById('notice').textContent.length > 0`),
		)
	})

	t.Run("profile", func(t *testing.T) {
		browse(t, one, 20*time.Second,
			chromedp.Click(`//nav/a[text()="Profile"]`, chromedp.BySearch),
			waitJS(`document.getElementById('profile-name')?.textContent === 'root'`))
		shots.shot(t, one, "profile")
	})

	t.Run("narrow", func(t *testing.T) {
		browse(t, one, 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		for _, page := range []string{"users", "tokens", "settings", "calls", "profile"} {
			var width int
			browse(t, one, 20*time.Second,
				chromedp.Navigate(base+"#/"+page),
				chromedp.WaitVisible(`nav a[aria-current="page"]`),
				chromedp.Sleep(500*time.Millisecond),
				chromedp.Evaluate(`document.documentElement.scrollWidth`, &width))
			assert.LessOrEqual(t, width, 390, "%s scrolls sideways at 390 px", page)
			if page == "users" || page == "calls" {
				shots.shot(t, one, page+"-narrow")
			}
		}
	})

	t.Run("signed out when revoked", func(t *testing.T) {
		// The second tab's session ends from elsewhere: the server closes its
		// socket with 4000 and the page shows the sign-in form.
		two := b.tab(t, one)
		browse(t, two, 20*time.Second, signInActions(base)...)
		var token string
		browse(t, two, 5*time.Second, chromedp.Evaluate(`sessionStorage.getItem('authrpc.console.token')`, &token))
		require.NotEmpty(t, token)
		got := a.call(t, token, "/v1/session/signout", `[]`)
		require.Equal(t, 200, got.code(), got.Raw)
		browse(t, two, 10*time.Second, chromedp.WaitVisible(button("Sign in"), chromedp.BySearch))
	})

	assert.Empty(t, b.errors(), "the browser reported errors")
}

// TestConsoleOverHTTP refuses the console's WebSocket: the console calls over
// HTTP POST instead. A caller without admin sees only its own pages.
func TestConsoleOverHTTP(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	rootToken := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, rootToken, "/v1/admin/users/create", `[{"username":"dave","password":"dave-password-1"}]`).code())
	var posts atomic.Int64
	h := a.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			http.Error(w, "no sockets here", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/") {
			posts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	base := srv.URL + "/admin/"

	tab := b.tab(t, nil)
	var links []string
	browse(t, tab, 20*time.Second, append(signInAs(base, "dave", "dave-password-1", "API tokens"),
		chromedp.Evaluate(`[...document.querySelectorAll('nav a')].map((a) => a.textContent)`, &links),
		chromedp.WaitVisible(byLabel("Token name"), chromedp.BySearch),
		chromedp.SendKeys(byLabel("Token name"), "ci", chromedp.BySearch),
		chromedp.Click(button("Create token"), chromedp.BySearch),
		chromedp.WaitVisible(`tr[data-token="ci"]`),
	)...)
	assert.Equal(t, []string{"API tokens", "Profile", "Security"}, links, "a caller without admin sees only its own pages")
	assert.GreaterOrEqual(t, posts.Load(), int64(3), "sign in, read and create went over HTTP")
	for _, e := range b.errors() {
		// The refused handshake is the only error the browser may report.
		assert.Contains(t, e, "WebSocket", "the browser reported an error")
	}
}
