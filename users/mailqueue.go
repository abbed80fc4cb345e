package users

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Mails are prepared and sent off the request path by mailWorkers
// goroutines, from a queue of at most mailQueueSize jobs. A full queue
// drops the job (and logs it) rather than blocking the caller: a flood must
// not pile up goroutines, memory or SMTP connections, and the rate limits
// make a full queue rare.
const (
	mailWorkers   = 4
	mailQueueSize = 1000
)

// mailTimeout bounds the work of one job: finding the user, storing the
// token and the SMTP exchange (which the Mailer bounds too).
const mailTimeout = time.Minute

// mailJob is one mail to prepare and send; what names it in logs.
type mailJob struct {
	what string
	run  func(ctx context.Context)
}

// mailQueue runs mail jobs on a few workers, off the request path, until
// it is closed. Its jobs outlive the requests that queued them, not the
// module.
type mailQueue struct {
	log    *slog.Logger
	jobs   chan mailJob
	ctx    context.Context // the jobs' work; canceled when close gives up waiting
	cancel context.CancelFunc

	mu      sync.Mutex // guards closing jobs against sends on it
	closed  bool
	workers sync.WaitGroup
}

func newMailQueue(ctx context.Context, log *slog.Logger) *mailQueue {
	q := &mailQueue{log: log, jobs: make(chan mailJob, mailQueueSize)}
	q.ctx, q.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return q
}

// start starts the workers.
func (q *mailQueue) start() {
	for range mailWorkers {
		q.workers.Add(1)
		go func() {
			defer q.workers.Done()
			for job := range q.jobs {
				q.run(job)
			}
		}()
	}
}

// enqueue queues a job for the workers; it never waits.
func (q *mailQueue) enqueue(job mailJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.log.Warn("users: module closed: " + job.what + " mail not sent")
		return
	}
	select {
	case q.jobs <- job:
	default:
		q.log.Warn("users: mail queue full: "+job.what+" mail dropped", "queued", mailQueueSize)
	}
}

func (q *mailQueue) run(job mailJob) {
	if q.ctx.Err() != nil {
		q.log.Warn("users: module closed: " + job.what + " mail not sent")
		return
	}
	defer func() {
		// A panic here would take the host's process down with it.
		if v := recover(); v != nil {
			q.log.Error("users: "+job.what+" mail: panic", "panic", v)
		}
	}()
	ctx, cancel := context.WithTimeout(q.ctx, mailTimeout)
	defer cancel()
	job.run(ctx)
}

// close stops taking jobs and lets the workers finish those queued until
// ctx ends, then cancels them.
func (q *mailQueue) close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() {
		q.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.cancel()
		return nil
	case <-ctx.Done():
		q.cancel()
		return fmt.Errorf("users: close: mails in flight: %w", ctx.Err())
	}
}
