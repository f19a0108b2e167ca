package serial

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// Driver builds serial devices that share ports: devices whose configs
// name the same port path, USB serial number or TCP address (several
// instruments on one RS-485 bus, or several device entries for one
// instrument) use ONE connection, opened by the first Open and closed
// when the last of them closes. Transactions of all of them take turns on
// the port, one at a time, writes ahead of reads. The daemon owns one
// Driver and passes its New method as the drivers.Factory of "serial";
// there is no global state. The package-level New builds devices that
// share nothing.
//
// The zero value is ready to use; a Driver must not be copied after first
// use. Its methods are safe for concurrent use.
//
// When the connection breaks, every device on it fails with
// drivers.ErrDisconnected; the first Open connects again and each
// device's Open runs its own init sequence on the new connection. Open
// never drops a working connection under the other devices.
type Driver struct {
	// Logger receives the driver's logs about shared ports; nil discards.
	Logger *slog.Logger

	mu    sync.Mutex // guards links and every link.refs
	links map[string]*link
}

var _ drivers.Factory = (*Driver)(nil).New

// NewDriver returns a Driver that logs to logger (nil discards).
func NewDriver(logger *slog.Logger) *Driver { return &Driver{Logger: logger} }

// New is the drivers.Factory of serial devices that share ports: it
// decodes and validates a Config and builds an unopened Device on the
// Driver's link for that port. A device whose line settings (baud, data
// bits, parity, stop bits, flow control, in_terminator, read_timeout)
// differ from those of the devices already on the port is refused with a
// *drivers.ConfigError.
func (dr *Driver) New(p drivers.Params) (drivers.Device, error) {
	var cfg Config
	if p.Decode != nil {
		if err := p.Decode(&cfg); err != nil {
			return nil, err
		}
	}
	d, err := newDevice(p.Name, cfg, p.Logger)
	if err != nil {
		return nil, err
	}
	key := linkKey(&cfg)
	dr.mu.Lock()
	defer dr.mu.Unlock()
	l := dr.links[key]
	if l == nil {
		l = newLink(key, &cfg, drivers.DiscardLogger(dr.Logger).With("driver", "serial", "link", key))
		if dr.links == nil {
			dr.links = map[string]*link{}
		}
		dr.links[key] = l
	} else if diff := l.differs(&cfg); diff != "" {
		return nil, fmt.Errorf("serial: invalid config: %w", &drivers.ConfigError{Path: diff, Value: key,
			Err: fmt.Errorf("the port is shared with device(s) %s whose %s differs", strings.Join(l.names(), ", "), diff)})
	}
	l.refs++
	d.attach(l, func() {
		dr.mu.Lock()
		l.refs--
		last := l.refs == 0
		if last {
			delete(dr.links, key)
		}
		dr.mu.Unlock()
		if last {
			l.close()
		}
	})
	return d, nil
}

// linkKey names the port of cfg.
func linkKey(cfg *Config) string {
	switch {
	case cfg.TCP != "":
		return "tcp " + cfg.TCP
	case cfg.USBSerial != "":
		return "usb_serial " + cfg.USBSerial
	}
	return "port " + filepath.Clean(cfg.Port)
}

// link is one port and the devices on it. It owns the connection; the
// devices take turns on it through lock.
//
// Lock order: Driver.mu, then link.dial, then link.mu; conn.mu and
// Device.mu are leaves (nothing is locked while they are held). The port
// lock (link.lock, a channel) is taken before conn.mu and link.mu and
// never while holding a mutex.
type link struct {
	key    string
	cfg    Config // the transport and line settings of the first device
	inTerm []byte
	readTO time.Duration
	log    *slog.Logger

	// lock is the port: a transaction holds it from its output to the end
	// of its reply. writers counts writes waiting for it, which go first.
	lock    chan struct{}
	writers atomic.Int32

	dial sync.Mutex // serializes connects

	mu    sync.Mutex
	c     *conn
	devs  map[*Device]struct{} // for their input-only protocols and names
	refs  int                  // guarded by Driver.mu
	ended bool
}

// newLink returns an unconnected link for cfg.
func newLink(key string, cfg *Config, log *slog.Logger) *link {
	l := &link{key: key, cfg: *cfg, log: drivers.DiscardLogger(log), lock: make(chan struct{}, 1), devs: map[*Device]struct{}{}}
	l.inTerm, _ = ParseTerminator(cfg.InTerminator)
	l.readTO = time.Duration(cfg.ReadTimeout)
	if l.readTO == 0 {
		l.readTO = DefaultReadTimeout
	}
	return l
}

// differs returns the key of the first line setting of cfg that differs
// from the link's, or "".
func (l *link) differs(cfg *Config) string {
	a, b := &l.cfg, cfg
	switch {
	case a.Baud != b.Baud:
		return "baud"
	case a.DataBits != b.DataBits:
		return "data_bits"
	case !strings.EqualFold(a.Parity, b.Parity):
		return "parity"
	case a.StopBits != b.StopBits:
		return "stop_bits"
	case !strings.EqualFold(a.FlowControl, b.FlowControl):
		return "flow_control"
	case a.InTerminator != b.InTerminator:
		return "in_terminator"
	case a.ReadTimeout != b.ReadTimeout:
		return "read_timeout"
	}
	return ""
}

// names returns the names of the devices on l.
func (l *link) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for d := range l.devs {
		out = append(out, d.name)
	}
	return out
}

// connect returns the working connection, dialing a new one when there
// is none or it broke.
func (l *link) connect(ctx context.Context) (*conn, error) {
	l.dial.Lock()
	defer l.dial.Unlock()
	l.mu.Lock()
	old, ended := l.c, l.ended
	l.mu.Unlock()
	if ended {
		return nil, drivers.ErrClosed
	}
	if old != nil && old.alive() {
		return old, nil
	}
	if old != nil {
		old.close()
	}
	p, where, err := openPort(ctx, &l.cfg, l.readTO)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w: %w", where, drivers.ErrDisconnected, err)
	}
	c := newConn(p, where, l.inTerm, l.readTO, l.log)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		c.close()
		return nil, drivers.ErrClosed
	}
	l.c = c
	l.log.Info("serial: connected", "port", where)
	return c, nil
}

// current returns the link's connection, or nil.
func (l *link) current() *conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c
}

// close closes the connection for good.
func (l *link) close() {
	l.dial.Lock()
	defer l.dial.Unlock()
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.ended = true
	l.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// volunteered reports whether line matches an input-only protocol of a
// device on l: a line the instrument sends unasked rather than a bad
// reply, even when no Subscribe call runs.
func (l *link) volunteered(line []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for d := range l.devs {
		for _, pr := range d.unsol {
			if _, err := pr.read.in.Match(line, pr.set.sep, 1, pr.set.ignoreExtra); err == nil {
				return true
			}
		}
	}
	return false
}

// streams reports whether the port carries unsolicited lines: a device
// on it has an input-only protocol, or c has a subscription.
func (l *link) streams(c *conn) bool {
	l.mu.Lock()
	for d := range l.devs {
		if len(d.unsol) > 0 {
			l.mu.Unlock()
			return true
		}
	}
	l.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.subs) > 0
}

// acquire takes the port within the lock timeout. A write (write true,
// already counted in l.writers) goes ahead of reads: a read that gets the
// port while writes wait hands it over and queues again.
func (l *link) acquire(ctx context.Context, timeout time.Duration, write bool) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	busy := func() error { return fmt.Errorf("lock timeout %v: port busy: %w", timeout, drivers.ErrTimeout) }
	for {
		select {
		case l.lock <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return busy()
		}
		if write || l.writers.Load() == 0 {
			return nil
		}
		<-l.lock
		yield := time.NewTimer(time.Millisecond)
		select {
		case <-ctx.Done():
			yield.Stop()
			return ctx.Err()
		case <-t.C:
			yield.Stop()
			return busy()
		case <-yield.C:
		}
	}
}

// release gives the port back.
func (l *link) release() { <-l.lock }
