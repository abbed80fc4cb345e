package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Check is one condition of readiness.
type Check struct {
	// Name names the check in the answer and the log, such as "database".
	Name string
	// Func answers nil while the condition holds. It must return once ctx
	// ends; the readiness answer does not wait for it past Options.Timeout.
	Func func(ctx context.Context) error
}

// Options configure a Readiness. The zero value is ready to use.
type Options struct {
	// Timeout bounds one run of the checks, which run concurrently; a check
	// still running then fails as "timeout". Keep it below the probe's own
	// timeout (Kubernetes' timeoutSeconds). Default: 2s.
	Timeout time.Duration
	// Logger receives a check's error when it starts failing, and a line
	// when it passes again (not every failing run: a probe every few
	// seconds would flood it). Default: slog.Default().
	Logger *slog.Logger
}

// DefaultTimeout is the default of Options.Timeout.
const DefaultTimeout = 2 * time.Second

// The states of a check in Report and in the readiness answer.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusTimeout = "timeout"
)

// Result is the outcome of one check.
type Result struct {
	Name   string
	Status string // StatusOK, StatusFailed or StatusTimeout
	Err    error  // nil when Status is StatusOK
}

// Report is the outcome of one run of every check.
type Report struct {
	Results []Result // in the order the checks were given
}

// Ready reports whether every check passed.
func (r Report) Ready() bool {
	for _, c := range r.Results {
		if c.Status != StatusOK {
			return false
		}
	}
	return true
}

// Readiness runs its checks and answers whether the service can take
// traffic. It is an http.Handler: 200 when every check passes, 503 naming
// the checks that failed.
type Readiness struct {
	checks  []Check
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex
	flight  *flight         // the run in progress, shared by the requests that ask meanwhile
	failing map[string]bool // by check name, as the last run left them
}

// flight is one run of the checks; done closes when report is set.
type flight struct {
	done   chan struct{}
	report Report
}

// NewReadiness returns the readiness of checks, run in the order given
// (concurrently: the order is the answer's).
func NewReadiness(opts Options, checks ...Check) *Readiness {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Readiness{checks: checks, timeout: opts.Timeout, log: opts.Logger, failing: map[string]bool{}}
}

// Run runs every check, concurrently, within Options.Timeout. A request
// that arrives while a run is in progress shares it rather than start
// another, so that probes and curious clients never multiply the work;
// ctx only bounds the wait for it.
func (r *Readiness) Run(ctx context.Context) Report {
	r.mu.Lock()
	f := r.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		r.flight = f
		// Detached from the asker's context: the others share the run.
		go r.run(context.WithoutCancel(ctx), f)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.report
	case <-ctx.Done():
		rep := Report{Results: make([]Result, len(r.checks))}
		for i, c := range r.checks {
			rep.Results[i] = Result{Name: c.Name, Status: StatusTimeout, Err: ctx.Err()}
		}
		return rep
	}
}

func (r *Readiness) run(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	type outcome struct {
		i   int
		err error
	}
	out := make(chan outcome, len(r.checks)) // a late check finishes into it unread
	for i, c := range r.checks {
		go func() { out <- outcome{i, runCheck(ctx, c)} }()
	}
	rep := Report{Results: make([]Result, len(r.checks))}
	for i, c := range r.checks {
		rep.Results[i] = Result{Name: c.Name, Status: StatusTimeout, Err: context.DeadlineExceeded}
	}
wait:
	for range r.checks {
		select {
		case o := <-out:
			res := &rep.Results[o.i]
			res.Status, res.Err = StatusOK, o.err
			if o.err != nil {
				res.Status = StatusFailed
				if errors.Is(o.err, context.DeadlineExceeded) {
					res.Status = StatusTimeout
				}
			}
		case <-ctx.Done():
			break wait
		}
	}
	r.mu.Lock()
	r.logChanges(ctx, rep)
	f.report = rep
	r.flight = nil
	r.mu.Unlock()
	close(f.done)
}

// runCheck runs c, answering a panic as its error.
func runCheck(ctx context.Context, c Check) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = errors.New("health: check panicked")
		}
	}()
	return c.Func(ctx)
}

// logChanges logs the checks that began to fail or passed again; r.mu is held.
func (r *Readiness) logChanges(ctx context.Context, rep Report) {
	for _, res := range rep.Results {
		was := r.failing[res.Name]
		switch {
		case res.Status != StatusOK && !was:
			r.log.WarnContext(ctx, "health: check failing", "check", res.Name, "status", res.Status, "err", res.Err)
		case res.Status == StatusOK && was:
			r.log.InfoContext(ctx, "health: check passing again", "check", res.Name)
		}
		r.failing[res.Name] = res.Status != StatusOK
	}
}

// ServeHTTP answers GET and HEAD: 200 with {"status":"ready","checks":{…}}
// when every check passed, else 503 with {"status":"unavailable",…}; checks
// maps each check's name to "ok", "failed" or "timeout". The errors are
// logged, never answered: they can name hosts, users and queries.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !allowed(w, req) {
		return
	}
	rep := r.Run(req.Context())
	code, status := http.StatusOK, "ready"
	if !rep.Ready() {
		code, status = http.StatusServiceUnavailable, "unavailable"
	}
	var b bytes.Buffer
	b.WriteString(`{"status":"` + status + `","checks":{`)
	for i, res := range rep.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(res.Name)
		b.Write(name)
		b.WriteString(`:"` + res.Status + `"`)
	}
	b.WriteString("}}\n")
	write(w, req, code, b.Bytes())
}

// Liveness returns the liveness handler: 200 with {"status":"ok"} to GET
// and HEAD, as long as the process serves HTTP. It checks nothing else, on
// purpose: a liveness probe that failed with the database would restart
// every instance during a database outage, which a restart cannot mend.
func Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if allowed(w, req) {
			write(w, req, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
		}
	})
}

// allowed answers 405 to a method other than GET and HEAD.
func allowed(w http.ResponseWriter, req *http.Request) bool {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func write(w http.ResponseWriter, req *http.Request, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
