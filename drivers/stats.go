package drivers

import (
	"sync"
	"time"
)

// Stats are the health counters of a device. The mapping layer publishes
// them as the device's health PVs.
type Stats struct {
	Connected     bool          // the device has a working connection (or needs none)
	Requests      uint64        // protocol requests sent (e.g. Modbus PDUs; one Read may send several)
	Errors        uint64        // failed requests and failed Opens
	LastError     string        // text of the last error; kept after recovery
	LastException int           // protocol exception code of the last device error; 0 for none
	LastRead      time.Duration // duration of the last Read call
	MaxRead       time.Duration // longest Read call so far
}

// Counters keeps Stats for a driver: it is safe for concurrent use, and a
// driver embeds it (or holds one) to implement StatsReporter. The zero
// value is ready to use.
type Counters struct {
	mu sync.Mutex
	s  Stats
}

// SetConnected records whether the device is connected.
func (c *Counters) SetConnected(up bool) {
	c.mu.Lock()
	c.s.Connected = up
	c.mu.Unlock()
}

// AddRequests counts n requests sent.
func (c *Counters) AddRequests(n int) {
	c.mu.Lock()
	c.s.Requests += uint64(n)
	c.mu.Unlock()
}

// AddError counts one failure and remembers err's text and exception
// code (see ExceptionCode). A nil err is ignored.
func (c *Counters) AddError(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.s.Errors++
	c.s.LastError = err.Error()
	if code, ok := ExceptionCode(err); ok {
		c.s.LastException = code
	}
	c.mu.Unlock()
}

// ObserveRead records the duration of one Read call.
func (c *Counters) ObserveRead(d time.Duration) {
	c.mu.Lock()
	c.s.LastRead = d
	c.s.MaxRead = max(c.s.MaxRead, d)
	c.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (c *Counters) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}
