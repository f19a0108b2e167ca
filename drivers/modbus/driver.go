package modbus

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	gmb "github.com/goburrow/modbus"

	"github.com/cabridge/cabridge/drivers"
)

// Default probe back-off of a unit that does not answer (Driver).
const (
	DefaultProbeBackoff    = time.Second
	DefaultMaxProbeBackoff = 30 * time.Second
)

// Driver builds Modbus devices that share connections: devices whose
// configs name the same transport and address (a TCP gateway host:port,
// or one serial device, a multidrop RS-485 bus) use ONE connection,
// ref-counted and closed when the last of them closes. The daemon owns
// one Driver and passes its New method as the drivers.Factory of
// "modbus"; there is no global state.
//
// The zero value is ready to use; a Driver must not be copied after
// first use. Its methods are safe for concurrent use.
//
// On a shared connection one request is in flight at a time and units
// take turns request by request, in the order they asked (a FIFO). A
// unit whose request times out fails fast for a while: its requests
// return at once with an error wrapping drivers.ErrTimeout and
// drivers.ErrNotSent that says since when it is not answering and when
// it will be probed next; the probe time backs off exponentially from
// ProbeBackoff to MaxProbeBackoff and an answer resets it. So a dead unit
// costs the others at most one timeout per back-off period. A reply
// that comes after its request timed out is dropped by transaction id
// (Modbus TCP); with RTU framing the timeout drops the connection, since
// a late reply cannot be told from the next one.
//
// When the connection breaks, the request in flight fails with
// drivers.ErrDisconnected, and the next request of any device on it
// transparently dials again: every device sees the new connection. Open
// of a shared device connects the link unless it is connected; it never
// drops a working connection under the other devices.
type Driver struct {
	// Logger receives the driver's logs about connections; nil discards.
	Logger *slog.Logger
	// ProbeBackoff is the first wait before a unit that timed out is
	// asked again; default DefaultProbeBackoff.
	ProbeBackoff time.Duration
	// MaxProbeBackoff caps the doubling wait; default
	// DefaultMaxProbeBackoff.
	MaxProbeBackoff time.Duration

	mu    sync.Mutex // guards conns and every conn.refs
	conns map[string]*conn
}

var _ drivers.Factory = (*Driver)(nil).New

// NewDriver returns a Driver that logs to logger (nil discards).
func NewDriver(logger *slog.Logger) *Driver { return &Driver{Logger: logger} }

// New is the drivers.Factory of Modbus devices that share connections:
// it decodes and validates a Config and builds an unconnected Device on
// the Driver's connection for that transport and address, creating the
// connection (unconnected) if it is the first. A device whose link
// settings (transport, serial parameters) differ from those of the
// devices already on the same address or serial device is refused with
// a *drivers.ConfigError.
func (dr *Driver) New(p drivers.Params) (drivers.Device, error) {
	var c Config
	if p.Decode != nil {
		if err := p.Decode(&c); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	key, settings := c.linkKey()
	dr.mu.Lock()
	defer dr.mu.Unlock()
	cn := dr.conns[key]
	if cn != nil && cn.settings != settings {
		var errs drivers.ConfigErrors
		field, value := "address", c.Address
		if c.Device != "" {
			field, value = "device", c.Device
		}
		errs.Add(field, value, "already used by device %q with other link settings (%s; this device wants %s)", cn.first, cn.settings, settings)
		return nil, errs.Err()
	}
	if cn == nil {
		cn = newConn(c, true)
		cn.key, cn.first = key, p.Name
		if dr.conns == nil {
			dr.conns = map[string]*conn{}
		}
		dr.conns[key] = cn
		drivers.DiscardLogger(dr.Logger).Debug("modbus: new link", "link", key, "settings", settings)
	}
	cn.refs++
	d := newDevice(p.Name, c, p.Logger, cn)
	d.drv = dr
	d.probe.min = dr.ProbeBackoff
	if d.probe.min <= 0 {
		d.probe.min = DefaultProbeBackoff
	}
	d.probe.max = max(d.probe.min, dr.MaxProbeBackoff)
	if dr.MaxProbeBackoff <= 0 {
		d.probe.max = max(d.probe.min, DefaultMaxProbeBackoff)
	}
	d.probe.on = true
	return d, nil
}

// Links returns the number of connections the Driver holds (open or
// not), one per distinct transport and address in use.
func (dr *Driver) Links() int {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	return len(dr.conns)
}

// Close closes every connection of the Driver, for the daemon's
// shutdown after its devices are closed. A device still open would dial
// again on its next request.
func (dr *Driver) Close() error {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	var first error
	for _, cn := range dr.conns {
		if err := cn.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// release drops one reference to cn and closes it with the last one.
func (dr *Driver) release(cn *conn) error {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	cn.refs--
	if cn.refs > 0 {
		return nil
	}
	if dr.conns[cn.key] == cn {
		delete(dr.conns, cn.key)
	}
	drivers.DiscardLogger(dr.Logger).Debug("modbus: link closed", "link", cn.key)
	return cn.close()
}

// conn is one connection (TCP socket or serial line) and the turn of
// the devices that use it: one request in flight at a time.
//
// Lock order: Device.mu, then the conn's turn (a semaphore), then the
// link's own mutex (StreamTransporter.mu, serialLink.mu); Device.Close
// takes Device.mu, then Driver.mu, then the link's mutex. Driver.mu is
// never held while waiting for a turn.
type conn struct {
	key      string // transport and address
	settings string // link settings the devices must agree on
	first    string // name of the first device, for errors
	shared   bool   // made by a Driver
	refs     int    // guarded by Driver.mu

	// turn is a semaphore of capacity 1; goroutines blocked sending on
	// it are served in order, so units take turns fairly.
	turn chan struct{}
	link link
	// client returns a goburrow client of one unit over the link.
	client func(unit byte) gmb.Client
}

// newConn builds the unconnected connection of c.
func newConn(c Config, shared bool) *conn {
	cn := &conn{shared: shared, turn: make(chan struct{}, 1)}
	cn.key, cn.settings = c.linkKey()
	switch c.transport() {
	case TransportTCP:
		st := NewStreamTransporter(c.Address, FramingMBAP, c.timeout())
		cn.link = st
		cn.client = func(unit byte) gmb.Client {
			pk := gmb.NewTCPClientHandler(c.Address)
			pk.SlaveId = unit
			return gmb.NewClient2(pk, st)
		}
	case TransportRTUOverTCP:
		st := NewStreamTransporter(c.Address, FramingRTU, c.timeout())
		cn.link = st
		cn.client = func(unit byte) gmb.Client {
			pk := gmb.NewRTUClientHandler("")
			pk.SlaveId = unit
			return gmb.NewClient2(pk, st)
		}
	case TransportRTU, TransportASCII:
		sl := newSerialLink(c)
		cn.link = sl
		cn.client = sl.newClient
	}
	return cn
}

// close closes the link.
func (cn *conn) close() error { return cn.link.Close() }

// linkKey returns the key that identifies c's connection and the
// settings every device on it must share.
func (c *Config) linkKey() (key, settings string) {
	switch tr := c.transport(); tr {
	case TransportRTU, TransportASCII:
		parity, _ := parseParity(c.Parity)
		baud, data, stop := c.BaudRate, c.DataBits, c.StopBits
		if baud == 0 {
			baud = DefaultBaudRate
		}
		if data == 0 {
			data = 8
		}
		if stop == 0 {
			stop = 1
		}
		return "serial " + c.Device, fmt.Sprintf("%s %d %d%s%d timeout %s", tr, baud, data, parity, stop, c.timeout())
	default:
		return "tcp " + c.Address, string(tr)
	}
}
