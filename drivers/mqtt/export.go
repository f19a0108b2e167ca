package mqtt

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// exporter publishes exported PVs, coalescing the updates of each PV and
// publishing it at most once per interval.
type exporter struct {
	topic  string
	every  time.Duration
	qos    byte
	retain bool

	mu      sync.Mutex
	pending map[string]drivers.Export // latest unpublished update per PV
	last    map[string]time.Time      // last publish per PV (owned by run)
	notify  chan struct{}             // capacity 1
}

// newExporter builds the exporter of c; qos is the device's default.
func newExporter(c *ExportConfig, qos byte) *exporter {
	e := &exporter{
		topic:   c.Topic,
		every:   orDur(c.MinInterval, DefaultExportEvery),
		qos:     qos,
		retain:  c.Retain,
		pending: map[string]drivers.Export{},
		last:    map[string]time.Time{},
		notify:  make(chan struct{}, 1),
	}
	if e.topic == "" {
		e.topic = DefaultExportTopic
	}
	if c.QoS != nil {
		e.qos = byte(*c.QoS)
	}
	return e
}

// put queues u, replacing an unpublished update of the same PV. It never
// blocks.
func (e *exporter) put(u drivers.Export) {
	e.mu.Lock()
	e.pending[u.PV] = u
	e.mu.Unlock()
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// topicFor returns the topic of a PV.
func (e *exporter) topicFor(pv string) string {
	safe := strings.NewReplacer("+", "_", "#", "_", "/", "_", "\x00", "_").Replace(pv)
	return strings.ReplaceAll(e.topic, "{pv}", safe)
}

// exportPayload is the JSON of one exported update.
type exportPayload struct {
	Value     any    `json:"value"`
	Enum      string `json:"enum,omitempty"`
	Severity  string `json:"severity"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
	Units     string `json:"units,omitempty"`
}

// encodeExport renders u as JSON. NaN and infinities become null.
func encodeExport(u drivers.Export) []byte {
	var vals []any
	if u.Value != nil {
		for i := range u.Value.Len() {
			switch x := u.Value.(type) {
			case drivers.Floats:
				if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
					vals = append(vals, nil)
				} else {
					vals = append(vals, x[i])
				}
			case drivers.Ints:
				vals = append(vals, x[i])
			case drivers.Uints:
				vals = append(vals, x[i])
			case drivers.Bools:
				vals = append(vals, x[i])
			case drivers.Strings:
				vals = append(vals, x[i])
			}
		}
	}
	p := exportPayload{Enum: u.Enum, Severity: u.Alarm.Severity.String(), Status: u.Alarm.Status.String(), Units: u.Units}
	switch len(vals) {
	case 0:
	case 1:
		p.Value = vals[0]
	default:
		p.Value = vals
	}
	if !u.Time.IsZero() {
		p.Timestamp = u.Time.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return []byte(`{"value":null}`)
	}
	return b
}

// run publishes until d is closed: every pending PV whose interval has
// passed goes out at once, the others when their interval ends. Updates
// wait while the broker is away.
func (e *exporter) run(d *Device) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		cl, ready, readyCh := d.cl, d.ready, d.readyCh
		d.mu.Unlock()
		var next time.Duration
		if ready {
			next = e.flush(d, cl, time.Now())
		}
		timer.Stop()
		if next > 0 {
			timer.Reset(next)
		}
		var waitReady <-chan struct{}
		if !ready {
			waitReady = readyCh
		}
		select {
		case <-d.stop:
			return
		case <-e.notify:
		case <-timer.C:
		case <-waitReady:
		}
	}
}

// flush publishes the pending PVs that may go now and returns the time
// until the next one may (0 for none).
func (e *exporter) flush(d *Device, cl client, now time.Time) time.Duration {
	var next time.Duration
	var due []drivers.Export
	e.mu.Lock()
	for pv, u := range e.pending {
		if left := e.last[pv].Add(e.every).Sub(now); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		due = append(due, u)
		delete(e.pending, pv)
	}
	e.mu.Unlock()
	for _, u := range due {
		e.last[u.PV] = now
		d.stats.AddRequests(1)
		// Not waited for: paho acknowledges asynchronously; errors show
		// up as a lost connection.
		cl.Publish(e.topicFor(u.PV), e.qos, e.retain, encodeExport(u))
	}
	return next
}
