package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Rate-limit decisions.
const (
	Allowed  = "allowed"
	Rejected = "rejected"
	// Unavailable: the shared backend could not be asked; the request was let through (fail open).
	Unavailable = "unavailable"
)

// RateLimit counts the rate limiter's decisions for one backend.
type RateLimit struct{ decisions *prometheus.CounterVec }

// NewRateLimit registers the rate-limit family with its three decisions at 0 for backend.
func NewRateLimit(reg prometheus.Registerer, backend string) *RateLimit {
	r := &RateLimit{prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "rate_limit", Name: "requests_total",
		Help:        "API requests seen by the rate limiter, by backend (memory, postgres) and decision (allowed, rejected with 429, unavailable: backend error, let through).",
		ConstLabels: prometheus.Labels{"backend": backend},
	}, []string{"decision"})}
	for _, d := range []string{Allowed, Rejected, Unavailable} {
		r.decisions.WithLabelValues(d)
	}
	reg.MustRegister(r.decisions)
	return r
}

// Observe counts one decision.
func (r *RateLimit) Observe(decision string) { r.decisions.WithLabelValues(decision).Inc() }

// Job outcomes.
const (
	JobDone    = "done"
	JobFailed  = "failed"
	JobRetried = "retried"
)

// Worker counts job outcomes and reads the queue at scrape time.
type Worker struct {
	processed, failed, retried *prometheus.CounterVec
}

// QueueStats is what the queue looks like now.
type QueueStats struct {
	Depth     int           // jobs waiting (status queued, due or scheduled for a retry)
	OldestDue time.Duration // age of the oldest job that is due and not taken (0 when none)
}

// NewWorker registers the worker families; kinds are the job kinds known in advance (series start at 0).
// queue is called at each scrape, bounded by ScrapeQueryTimeout; on error the queue families are left out.
func NewWorker(reg prometheus.Registerer, kinds []string, queue func(context.Context) (QueueStats, error)) *Worker {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "worker", Name: name, Help: help}, []string{"kind"})
	}
	w := &Worker{
		processed: vec("jobs_processed_total", "Jobs completed successfully, by kind."),
		failed:    vec("jobs_failed_total", "Jobs given up on (failed for good: no attempts left, or a job that cannot succeed), by kind."),
		retried:   vec("jobs_retried_total", "Failed attempts put back in the queue for a later retry, by kind."),
	}
	for _, k := range kinds {
		w.processed.WithLabelValues(k)
		w.failed.WithLabelValues(k)
		w.retried.WithLabelValues(k)
	}
	reg.MustRegister(w.processed, w.failed, w.retried, queueCollector{queue})
	return w
}

// Observe counts one attempt's outcome (JobDone, JobFailed or JobRetried).
func (w *Worker) Observe(kind, outcome string) {
	switch outcome {
	case JobDone:
		w.processed.WithLabelValues(kind).Inc()
	case JobFailed:
		w.failed.WithLabelValues(kind).Inc()
	case JobRetried:
		w.retried.WithLabelValues(kind).Inc()
	}
}

var (
	queueDepth  = desc("worker", "queue_depth", "Jobs waiting in the queue (due now or scheduled for a retry).")
	queueOldest = desc("worker", "queue_oldest_pending_age_seconds", "How long the oldest due job has waited (0 when none is due).")
	queueUp     = desc("worker", "queue_up", "1 when this scrape could read the queue, else 0.")
)

type queueCollector struct {
	read func(context.Context) (QueueStats, error)
}

func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepth
	ch <- queueOldest
	ch <- queueUp
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeQueryTimeout)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDepth, prometheus.GaugeValue, float64(s.Depth))
	ch <- prometheus.MustNewConstMetric(queueOldest, prometheus.GaugeValue, s.OldestDue.Seconds())
}
