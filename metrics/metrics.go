package metrics

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Outcomes of a call, the value of the outcome label. They part the calls
// as the call log counts them: the call log's accepted calls are
// OutcomeOK, OutcomeError and OutcomeException together, its errors are
// OutcomeError and OutcomeException, its exceptions OutcomeException, and
// its declined calls OutcomeDeclined.
const (
	OutcomeOK        = "ok"        // answered with success
	OutcomeError     = "error"     // answered with an error that is no exception
	OutcomeException = "exception" // an internal error or a panic
	OutcomeDeclined  = "declined"  // refused for permissions or a limit; the handler did not run
)

// UnknownMethod is the method label of the calls of a path that names no
// method: whatever the path, one label, so that a scan of random paths
// makes no series.
const UnknownMethod = "unknown"

// DefaultBuckets are the default upper bounds of the call duration
// histogram, in seconds: from a cached read (under a millisecond) to a
// password hash (a tenth of a second or more) and a slow query.
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// CallLogStats is the call log's queue as metrics reads it. A
// *calllog.Module's Stats converts to it:
//
//	CallLog: func() metrics.CallLogStats { return metrics.CallLogStats(calls.Stats()) }
type CallLogStats struct {
	Queued  int
	Written uint64
	Dropped uint64
}

// Listener reports whether the channel between instances listens: a
// *storage.Sync or a *natspubsub.Sync.
type Listener interface {
	Listening() bool
}

// Options configure Metrics. The zero value is ready to use; each source
// left nil leaves its metrics out.
type Options struct {
	// Namespace prefixes every metric's name. Default: "authrpc".
	Namespace string

	// Buckets are the upper bounds of the call duration histogram, in
	// seconds. Default: DefaultBuckets.
	Buckets []float64

	// Registry is where the metrics are registered, and what Handler
	// serves. Default: a registry of its own, with the Go runtime's and the
	// process's collectors (collectors.NewGoCollector and
	// NewProcessCollector) besides.
	Registry *prometheus.Registry

	// CallLog reads the call log's queue (see CallLogStats).
	CallLog func() CallLogStats

	// Hasher is the password hasher whose queue is reported, such as a
	// *users.Module's Hasher().
	Hasher *auth.Hasher

	// Sync reports whether the channel between instances listens.
	Sync Listener
}

// Metrics counts a registry's calls and reads the state of its sockets,
// events and the sources given in Options, for Prometheus. It is the
// registry's rpc.CallHook; serve Handler.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	limited  *prometheus.CounterVec
	inFlight atomic.Int64

	mu     sync.Mutex                            // guards the writes of series
	series atomic.Pointer[map[string]*methodSet] // by method id; copied on write
}

// methodSet is one method's series, looked up once per call.
type methodSet struct {
	ok, err, exception, declined, limited prometheus.Counter
	duration                              prometheus.Observer
}

// New registers the metrics of rpcReg, and of the sources in opts, and
// hooks them into rpcReg's calls (rpc.Registry.Hook). Call it once the
// modules are mounted: their methods' series then start at zero, where a
// method registered later gets its series at its first call. It fails when
// opts.Registry already holds metrics of the same names.
func New(rpcReg *rpc.Registry, opts Options) (*Metrics, error) {
	if opts.Namespace == "" {
		opts.Namespace = "authrpc"
	}
	if len(opts.Buckets) == 0 {
		opts.Buckets = DefaultBuckets
	}
	preg := opts.Registry
	if preg == nil {
		preg = prometheus.NewRegistry()
		preg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{reg: preg, opts: opts}
	ns := opts.Namespace
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "calls_total",
		Help: "Calls answered, by method and outcome: ok, error, exception (an internal error or a panic), declined (refused before the handler ran).",
	}, []string{"method", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "call_duration_seconds",
		Help:    "Time from a call's arrival to its answer (a void call: to its end), of the calls not declined, by method.",
		Buckets: opts.Buckets,
	}, []string{"method"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "calls_rate_limited_total",
		Help: "Calls answered 429 or -32802, by method: a method's rate limit or bound on calls in flight, the bound on void calls, a handler's own limit (sign-in, the hashing queue).",
	}, []string{"method"})
	cs := []prometheus.Collector{m.calls, m.duration, m.limited}
	cs = append(cs, registryCollectors(ns, rpcReg, &m.inFlight)...)
	cs = append(cs, sourceCollectors(ns, opts)...)
	for _, c := range cs {
		if err := preg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	for _, info := range rpcReg.Methods() {
		m.set(info.ID)
	}
	rpcReg.Hook(m)
	return m, nil
}

// Handler serves the metrics in Prometheus' text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry returns the Prometheus registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// StartCall counts the call in flight.
func (m *Metrics) StartCall(ctx context.Context, _ rpc.CallStart) context.Context {
	m.inFlight.Add(1)
	return ctx
}

// EndCall counts the call by its method and outcome, and its duration.
// It costs a map lookup and a few atomic adds.
func (m *Metrics) EndCall(_ context.Context, rec rpc.CallRecord) {
	m.inFlight.Add(-1)
	s := m.set(rec.Method)
	switch {
	case rec.Declined:
		s.declined.Inc()
	case rec.Exception:
		s.exception.Inc()
	case rec.Error:
		s.err.Inc()
	default:
		s.ok.Inc()
	}
	if !rec.Declined {
		s.duration.Observe(rec.Runtime.Seconds())
	}
	if rec.Code == rpc.CodeTooManyRequests || rec.Code == rpc.CodeTooManyActive {
		s.limited.Inc()
	}
}

// set returns the series of a method; an empty id (no method) is
// UnknownMethod's. Ids reach it only from the registry: registered
// methods, and its reserved /ping and /healthcheck.
func (m *Metrics) set(id string) *methodSet {
	if id == "" {
		id = UnknownMethod
	}
	if sets := m.series.Load(); sets != nil {
		if s, ok := (*sets)[id]; ok {
			return s
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.series.Load()
	if old != nil {
		if s, ok := (*old)[id]; ok {
			return s
		}
	}
	s := &methodSet{
		ok:        m.calls.WithLabelValues(id, OutcomeOK),
		err:       m.calls.WithLabelValues(id, OutcomeError),
		exception: m.calls.WithLabelValues(id, OutcomeException),
		declined:  m.calls.WithLabelValues(id, OutcomeDeclined),
		limited:   m.limited.WithLabelValues(id),
		duration:  m.duration.WithLabelValues(id),
	}
	next := make(map[string]*methodSet, 1)
	if old != nil {
		next = make(map[string]*methodSet, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	}
	next[id] = s
	m.series.Store(&next)
	return s
}
