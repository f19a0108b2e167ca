package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cabridge/cabridge/drivers"
)

// Interface guards.
var (
	_ drivers.Device        = (*Device)(nil)
	_ drivers.Opener        = (*Device)(nil)
	_ drivers.Subscriber    = (*Device)(nil)
	_ drivers.StatsReporter = (*Device)(nil)
	_ drivers.Exporter      = (*Device)(nil)
	_ drivers.Factory       = New
	_ drivers.Validator     = (*Config)(nil)
)

// maxPending bounds the topics with a message waiting for the dispatcher;
// messages of further topics are dropped (and counted) until it catches up.
const maxPending = 10000

// subscribeTimeout bounds the subscriptions made after a reconnect.
const subscribeTimeout = 10 * time.Second

// Device is one broker connection. Points are topics (see ParsePoint and
// the package documentation). It follows the concurrency rules of
// drivers.Device; Export and Stats may be called from any goroutine.
//
// Goroutines: Open starts two, a dispatcher that decodes the messages
// paho hands over (paho's handlers only queue them, so they never block
// paho) and an exporter; paho runs its own. Close stops all of them.
// Paho reconnects by itself after a lost connection; every connect
// subscribes to every topic again, publishes "online" on the status
// topic and only then makes the device ready.
//
// Lock order: subMu before mu; inbox.mu, the exporter's mu and the
// Counters are leaves. emit is called with subMu held, never with mu;
// paho is never called with either held.
type Device struct {
	name      string
	cfg       Config
	log       *slog.Logger
	newClient clientFactory
	qos       byte
	stale     time.Duration
	readWait  time.Duration
	logEvery  time.Duration

	stop  chan struct{} // closed by Close
	wg    sync.WaitGroup
	stats drivers.Counters
	in    inbox
	kick  chan struct{} // wakes the dispatcher to recompute staleness (capacity 1)

	mu         sync.Mutex
	closed     bool
	started    bool // goroutines running
	cl         client
	ready      bool          // connected and subscribed
	readyCh    chan struct{} // closed when ready
	lostCh     chan struct{} // closed when a ready connection is lost
	gen        int           // bumped on every connect and loss
	points     map[string]*point
	subscribed map[string]bool // filters subscribed on the current connection
	state      map[*point]*pstate
	waiters    map[*waiter]struct{}
	changed    chan struct{} // closed and replaced when a message was handled

	subMu sync.Mutex // held while emitting; orders emits with Subscribe's start and end
	subs  map[*subscription]struct{}

	exp *exporter
}

// pstate is what the device knows of one point.
type pstate struct {
	last    drivers.Sample // the last decoded message (Value or Err)
	has     bool           // a message arrived
	at      time.Time      // when it arrived
	since   time.Time      // start of the current subscription (staleness origin)
	stale   bool           // a staleness sample was emitted since the last message
	waited  bool           // a Read waited for its first message on this connection
	lastLog time.Time      // last bad-payload log line
	quiet   int            // bad payloads not logged since
	meta    *drivers.Meta  // Homie attributes of the property, attached to every sample
}

// waiter waits for a write's confirmation on a readback topic.
type waiter struct {
	p    *point
	v    drivers.Value
	done chan struct{}
}

// subscription is one running Subscribe call.
type subscription struct {
	pts  map[*point]bool
	emit func(drivers.Sample)
}

// message is one message handed over by paho.
type message struct {
	topic   string
	payload []byte
	at      time.Time
}

// inbox coalesces the messages paho hands over, by topic, for the
// dispatcher: put never blocks.
type inbox struct {
	mu      sync.Mutex
	msgs    map[string]message
	order   []string
	dropped uint64
	notify  chan struct{} // capacity 1
}

// put queues m, replacing a waiting message of the same topic.
func (b *inbox) put(m message) {
	b.mu.Lock()
	if _, ok := b.msgs[m.topic]; !ok {
		if len(b.order) >= maxPending {
			b.dropped++
			b.mu.Unlock()
			return
		}
		b.order = append(b.order, m.topic)
	}
	b.msgs[m.topic] = m
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take returns the waiting messages in arrival order of their topics,
// and the number of messages dropped since the last take.
func (b *inbox) take() ([]message, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]message, 0, len(b.order))
	for _, t := range b.order {
		out = append(out, b.msgs[t])
	}
	clear(b.msgs)
	b.order = b.order[:0]
	dropped := b.dropped
	b.dropped = 0
	return out, dropped
}

// New is the drivers.Factory of the MQTT driver: it decodes p's section
// into a Config, validates it and returns NewDevice's device.
func New(p drivers.Params) (drivers.Device, error) { return drivers.Build(p, NewDevice) }

// NewDevice validates cfg and returns an unopened device named name (for
// logs, errors and the default client id) that logs to logger (nil
// discards). It does no I/O and starts no goroutines.
func NewDevice(name string, cfg Config, logger *slog.Logger) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt: invalid config: %w", err)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "cabridge-" + name
	}
	qos := DefaultQoS
	if cfg.QoS != nil {
		qos = *cfg.QoS
	}
	d := &Device{
		name:       name,
		cfg:        cfg,
		log:        drivers.DiscardLogger(logger).With("device", name, "driver", "mqtt"),
		newClient:  newPahoClient,
		qos:        byte(qos),
		stale:      time.Duration(cfg.Stale),
		readWait:   orDur(cfg.ReadWait, DefaultReadWait),
		logEvery:   orDur(cfg.LogEvery, DefaultLogEvery),
		stop:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		in:         inbox{msgs: map[string]message{}, notify: make(chan struct{}, 1)},
		readyCh:    make(chan struct{}),
		lostCh:     make(chan struct{}),
		points:     map[string]*point{},
		subscribed: map[string]bool{},
		state:      map[*point]*pstate{},
		waiters:    map[*waiter]struct{}{},
		changed:    make(chan struct{}),
		subs:       map[*subscription]struct{}{},
	}
	if cfg.Export != nil {
		d.exp = newExporter(cfg.Export, d.qos)
	}
	return d, nil
}

// ParsePoint implements drivers.Device. The address is the state topic
// filter (wildcards allowed) or, with option access=w, the command topic;
// the options are the Opt* constants. Type is float64 (the default),
// float32, int8..int64, uint8..uint64, bool or string; Len is the number
// of elements of an array (a waveform), or the maximum length of a
// string. Order and Bit are not supported.
func (d *Device) ParsePoint(spec drivers.PointSpec) (drivers.Point, error) {
	p, err := parsePoint(spec, d.qos, d.stale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if q, ok := d.points[p.key]; ok {
		return q, nil
	}
	d.points[p.key] = p
	d.state[p] = &pstate{}
	return p, nil
}

// own returns pt as a point of d.
func (d *Device) own(pt drivers.Point) (*point, error) {
	p, ok := pt.(*point)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !ok || d.points[p.key] != p {
		return nil, fmt.Errorf("mqtt: %s: %w: %v is not a point of this device", d.name, drivers.ErrBadPoint, pt)
	}
	return p, nil
}

// wantedLocked returns the filters to subscribe to: the configured
// subscriptions and the points' state and readback topics, minimised.
func (d *Device) wantedLocked() []string {
	fs := slices.Clone(d.cfg.Subscriptions)
	for _, p := range d.points {
		if p.filter != "" {
			fs = append(fs, p.filter)
		}
		if p.readback != "" {
			fs = append(fs, p.readback)
		}
		fs = append(fs, p.homieTopics()...)
	}
	return minimalFilters(fs)
}

// options returns paho's options for a new client.
func (d *Device) options(tlsConf *tls.Config) *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(d.cfg.Broker).
		SetClientID(d.cfg.ClientID).
		SetUsername(d.cfg.Username).
		SetPassword(d.cfg.Password).
		SetKeepAlive(orDur(d.cfg.KeepAlive, DefaultKeepAlive)).
		SetCleanSession(d.cfg.Session != SessionPersistent).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(orDur(d.cfg.ReconnectMax, DefaultReconnectMax)).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true). // handlers only queue, so order costs nothing
		SetDefaultPublishHandler(d.onMessage).
		SetOnConnectHandler(d.onConnect).
		SetConnectionLostHandler(d.onLost)
	if tlsConf != nil {
		o.SetTLSConfig(tlsConf)
	}
	if d.cfg.StatusTopic != "" {
		o.SetWill(d.cfg.StatusTopic, "offline", d.qos, true)
	}
	return o
}

// brokerHost returns the broker URL without user info, for messages.
func (d *Device) brokerHost() string {
	u, err := url.Parse(d.cfg.Broker)
	if err != nil {
		return "?"
	}
	u.User = nil
	return u.String()
}

// Open implements drivers.Opener. The first Open connects to the broker
// and subscribes; later Opens (after an error wrapping
// drivers.ErrDisconnected) wait, within ctx, for paho's automatic
// reconnect to finish, and fail with ErrDisconnected when it has not.
func (d *Device) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt: %s: open: %w", d.name, err)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("mqtt: %s: open: %w", d.name, drivers.ErrClosed)
	}
	cl := d.cl
	readyCh := d.readyCh
	if cl == nil {
		var tlsConf *tls.Config
		if d.cfg.TLS != nil {
			var err error
			if tlsConf, err = loadTLS(d.cfg.TLS); err != nil {
				d.mu.Unlock()
				d.stats.AddError(err)
				return fmt.Errorf("mqtt: %s: open: %w", d.name, err)
			}
		}
		cl = d.newClient(d.options(tlsConf))
		d.cl = cl
		if !d.started {
			d.started = true
			d.wg.Go(d.dispatch)
			if d.exp != nil {
				d.wg.Go(func() { d.exp.run(d) })
			}
		}
		d.mu.Unlock()
		d.stats.AddRequests(1)
		if err := wait(ctx, cl.Connect()); err != nil {
			d.mu.Lock()
			if d.cl == cl {
				d.cl = nil
			}
			d.mu.Unlock()
			cl.Disconnect(0)
			err = fmt.Errorf("mqtt: %s: connect to %s: %w: %w", d.name, d.brokerHost(), drivers.ErrDisconnected, err)
			d.stats.AddError(err)
			return err
		}
	} else {
		d.mu.Unlock()
	}
	select {
	case <-readyCh:
		return nil
	case <-d.stop:
		return fmt.Errorf("mqtt: %s: open: %w", d.name, drivers.ErrClosed)
	case <-ctx.Done():
		err := fmt.Errorf("mqtt: %s: broker %s: not (re)connected yet: %w", d.name, d.brokerHost(), drivers.ErrDisconnected)
		d.stats.AddError(err)
		return err
	}
}

// onMessage is paho's message handler: it only queues.
func (d *Device) onMessage(_ paho.Client, m paho.Message) {
	d.in.put(message{topic: m.Topic(), payload: m.Payload(), at: time.Now()})
}

// onConnect runs in a goroutine of paho's after every connect: it
// subscribes to every wanted filter, announces the bridge and makes the
// device ready.
func (d *Device) onConnect(paho.Client) {
	d.mu.Lock()
	c := d.cl // paho's client, or the tests' wrapper of it
	if d.closed || c == nil {
		d.mu.Unlock()
		return
	}
	d.gen++
	gen := d.gen
	wanted := d.wantedLocked()
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	// Close cancels the waits below.
	closing := make(chan struct{})
	var watch sync.WaitGroup
	defer watch.Wait()
	defer close(closing)
	watch.Go(func() {
		select {
		case <-d.stop:
			cancel()
		case <-closing:
		}
	})
	if len(wanted) > 0 {
		filters := make(map[string]byte, len(wanted))
		for _, f := range wanted {
			filters[f] = d.qos
		}
		d.stats.AddRequests(1)
		if err := d.subscribe(ctx, c, filters); err != nil {
			err = fmt.Errorf("mqtt: %s: subscribe %v: %w", d.name, wanted, err)
			d.stats.AddError(err)
			d.log.Error("mqtt: subscribe after connect failed; dropping the connection", "err", err)
			// A connection without its subscriptions is useless: drop the
			// client, and the next Open starts over with a new one.
			d.mu.Lock()
			drop := d.cl == c && gen == d.gen && !d.closed
			if drop {
				d.cl = nil
			}
			d.mu.Unlock()
			if drop {
				c.Disconnect(0)
			}
			return
		}
	}
	if d.cfg.SparkplugRebirth {
		d.mu.Lock()
		nodes := sparkplugNodes(d.points)
		d.mu.Unlock()
		for _, topic := range nodes {
			payload, _ := spbCommand("Node Control/Rebirth", drivers.Bools{true}, 1, time.Now()) // cannot fail for a bool
			d.stats.AddRequests(1)
			if err := wait(ctx, c.Publish(topic, d.qos, false, payload)); err != nil {
				d.stats.AddError(err)
				d.log.Warn("mqtt: sparkplug rebirth request failed", "topic", topic, "err", err)
			}
		}
	}
	if d.cfg.StatusTopic != "" {
		d.stats.AddRequests(1)
		if err := wait(ctx, c.Publish(d.cfg.StatusTopic, d.qos, true, "online")); err != nil {
			d.stats.AddError(err)
			d.log.Warn("mqtt: status publish failed", "topic", d.cfg.StatusTopic, "err", err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if gen != d.gen || d.closed {
		return // lost again meanwhile
	}
	d.subscribed = map[string]bool{}
	for _, f := range wanted {
		d.subscribed[f] = true
	}
	for _, st := range d.state {
		st.waited = false // the broker sends the retained messages again
	}
	d.ready = true
	d.lostCh = make(chan struct{})
	close(d.readyCh)
	d.stats.SetConnected(true)
	d.log.Info("mqtt: connected", "broker", d.brokerHost(), "subscriptions", wanted)
}

// subscribe subscribes c to filters and waits for the broker's answer:
// a refused filter (SUBACK 0x80, e.g. by an ACL) is an error too.
func (d *Device) subscribe(ctx context.Context, c client, filters map[string]byte) error {
	tok := c.SubscribeMultiple(filters, d.onMessage)
	if err := wait(ctx, tok); err != nil {
		return err
	}
	st, ok := tok.(interface{ Result() map[string]byte }) // *paho.SubscribeToken
	if !ok {
		return nil
	}
	var refused []string
	for f, code := range st.Result() {
		if code >= 0x80 {
			refused = append(refused, f)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return fmt.Errorf("broker refused the subscription to %v", refused)
	}
	return nil
}

// onLost is paho's connection-lost handler.
func (d *Device) onLost(_ paho.Client, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	d.subscribed = map[string]bool{}
	if d.ready {
		d.ready = false
		close(d.lostCh)
		d.readyCh = make(chan struct{})
	}
	d.stats.SetConnected(false)
	err = fmt.Errorf("mqtt: %s: connection to %s lost: %w", d.name, d.brokerHost(), err)
	d.stats.AddError(err)
	if !d.closed {
		d.log.Warn("mqtt: connection lost; reconnecting", "err", err)
	}
}

// connection returns the client and the lost channel when the device is
// ready, or an error.
func (d *Device) connection(op string) (client, <-chan struct{}, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return nil, nil, fmt.Errorf("mqtt: %s: %s: %w", d.name, op, drivers.ErrClosed)
	case !d.ready || d.cl == nil:
		err := fmt.Errorf("mqtt: %s: %s: broker %s: %w", d.name, op, d.brokerHost(), drivers.ErrDisconnected)
		d.stats.AddError(err)
		return nil, nil, err
	}
	return d.cl, d.lostCh, nil
}

// ensure subscribes to the filters of pts that no subscription of the
// current connection covers (points parsed after Open).
func (d *Device) ensure(ctx context.Context, pts []*point) error {
	d.mu.Lock()
	var missing []string
	for _, p := range pts {
		for _, f := range append([]string{p.filter, p.readback}, p.homieTopics()...) {
			if f == "" {
				continue
			}
			covered := false
			for s := range d.subscribed {
				if covers(s, f) {
					covered = true
					break
				}
			}
			if !covered && !slices.Contains(missing, f) {
				missing = append(missing, f)
			}
		}
	}
	cl, gen := d.cl, d.gen
	d.mu.Unlock()
	if len(missing) == 0 || cl == nil {
		return nil
	}
	filters := map[string]byte{}
	for _, f := range minimalFilters(missing) {
		filters[f] = d.qos
	}
	d.stats.AddRequests(1)
	if err := d.subscribe(ctx, cl, filters); err != nil {
		err = fmt.Errorf("mqtt: %s: subscribe %v: %w", d.name, slices.Sorted(maps.Keys(filters)), err)
		if ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", drivers.ErrDisconnected, err)
		}
		d.stats.AddError(err)
		return err
	}
	d.mu.Lock()
	if gen == d.gen {
		for f := range filters {
			d.subscribed[f] = true
		}
	}
	d.mu.Unlock()
	return nil
}

// points converts pts to the device's points.
func (d *Device) pointsOf(pts []drivers.Point) ([]*point, error) {
	out := make([]*point, len(pts))
	for i, pt := range pts {
		p, err := d.own(pt)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Read implements drivers.Device: it returns the last message of each
// point's topic, decoded. A point that has had no message yet is waited
// for up to Config.ReadWait, once per connection (the broker sends
// retained messages right after subscribing), then gets a Sample whose
// Err wraps
// drivers.ErrTimeout, as does a point whose last message is older than
// its staleness time. A write-only point gets drivers.ErrUnsupported.
func (d *Device) Read(ctx context.Context, pts []drivers.Point) ([]drivers.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mqtt: %s: read: %w", d.name, err)
	}
	ps, err := d.pointsOf(pts)
	if err != nil {
		return nil, err
	}
	if _, _, err := d.connection("read"); err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, nil
	}
	start := time.Now()
	defer func() { d.stats.ObserveRead(time.Since(start)) }()
	if err := d.ensure(ctx, ps); err != nil {
		return nil, err
	}
	d.stats.AddRequests(1)
	timer := time.NewTimer(d.readWait)
	defer timer.Stop()
	for {
		d.mu.Lock()
		all := true
		for _, p := range ps {
			if st := d.state[p]; p.filter != "" && !st.has && !st.waited {
				all = false
			}
		}
		changed, lost := d.changed, d.lostCh
		ready := d.ready
		d.mu.Unlock()
		if !ready {
			return nil, fmt.Errorf("mqtt: %s: read: %w", d.name, drivers.ErrDisconnected)
		}
		if all {
			break
		}
		select {
		case <-changed:
			continue
		case <-timer.C:
		case <-lost:
			return nil, fmt.Errorf("mqtt: %s: read: connection lost: %w", d.name, drivers.ErrDisconnected)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, fmt.Errorf("mqtt: %s: read: %w", d.name, ctx.Err())
			}
		}
		break
	}
	now := time.Now()
	out := make([]drivers.Sample, len(ps))
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range ps {
		st := d.state[p]
		st.waited = true // later Reads of a silent topic do not wait again
		switch {
		case p.filter == "":
			out[i] = drivers.Sample{Point: p, Time: now, Err: fmt.Errorf("mqtt: %s: read %s: write-only point: %w", d.name, p, drivers.ErrUnsupported)}
		case !st.has:
			out[i] = drivers.Sample{Point: p, Time: now, Err: fmt.Errorf("mqtt: %s: no message on %q yet: %w", d.name, p.filter, drivers.ErrTimeout)}
		case p.stale > 0 && now.Sub(st.at) > p.stale:
			out[i] = drivers.Sample{Point: p, Time: now, Err: fmt.Errorf("mqtt: %s: no message on %q for %v: %w", d.name, p.filter, now.Sub(st.at).Round(time.Millisecond), drivers.ErrTimeout)}
		default:
			s := st.last
			s.Value = cloneValue(s.Value)
			out[i] = s
		}
	}
	return out, nil
}

// cloneValue copies v, so that a receiver may own it.
func cloneValue(v drivers.Value) drivers.Value {
	switch x := v.(type) {
	case drivers.Bools:
		return slices.Clone(x)
	case drivers.Ints:
		return slices.Clone(x)
	case drivers.Uints:
		return slices.Clone(x)
	case drivers.Floats:
		return slices.Clone(x)
	case drivers.Strings:
		return slices.Clone(x)
	}
	return v
}

// Write implements drivers.Device: it publishes v, rendered with the
// point's template, to its command topic with its QoS and retain flag,
// and returns when paho has sent it (QoS 0) or the broker acknowledged it
// (QoS 1, 2). A point with a readback topic returns only when a message
// there carries the written value, or fails with drivers.ErrTimeout when
// ctx ends first. The driver retries nothing; a write refused for want
// of a connection wraps drivers.ErrNotSent. A QoS 1 or 2 publish whose
// acknowledgement was lost with the connection is an ErrTimeout that may
// still reach the broker: paho resends unacknowledged publishes (DUP)
// after reconnecting, as MQTT's at-least-once delivery requires.
func (d *Device) Write(ctx context.Context, pt drivers.Point, v drivers.Value) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt: %s: write: %w", d.name, err)
	}
	p, err := d.own(pt)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		err = fmt.Errorf("mqtt: %s: write %s: %w", d.name, p.command, err)
		d.stats.AddError(err)
		return err
	}
	if !p.typ.Access.CanWrite() {
		return fmt.Errorf("mqtt: %s: write %s: %w (no command topic)", d.name, p, drivers.ErrReadOnly)
	}
	if v == nil || v.Len() < 1 || v.Len() > p.typ.Len || (p.typ.Len == 1 && v.Len() != 1) {
		return fmt.Errorf("mqtt: %s: write %s: %w: want %d element(s)", d.name, p, drivers.ErrBadValue, p.typ.Len)
	}
	cv, err := drivers.Convert(v, p.typ.Kind)
	if err != nil {
		return fmt.Errorf("mqtt: %s: write %s: %w", d.name, p, err)
	}
	if err := checkRange(cv, p.typ.Bits); err != nil {
		return fmt.Errorf("mqtt: %s: write %s: %w", d.name, p, err)
	}
	out := cv
	if p.dec.enum != nil {
		if out, err = enumText(cv, p.dec.enum); err != nil {
			return fmt.Errorf("mqtt: %s: write %s: %w", d.name, p, err)
		}
	}
	var payload []byte
	if p.dec.spb != nil {
		payload, err = spbCommand(p.dec.spb.metric, out, p.typ.Bits, time.Now())
	} else {
		payload, err = encodeValue(p.template, out, time.Now())
	}
	if err != nil {
		return fmt.Errorf("mqtt: %s: write %s: %w", d.name, p, err)
	}
	cl, lost, err := d.connection("write " + p.command)
	if err != nil {
		return fmt.Errorf("%w (%w)", err, drivers.ErrNotSent)
	}
	var w *waiter
	if p.readback != "" {
		if err := d.ensure(ctx, []*point{p}); err != nil {
			return fail(fmt.Errorf("%w (%w)", err, drivers.ErrNotSent))
		}
		w = &waiter{p: p, v: cv, done: make(chan struct{})}
		d.mu.Lock()
		d.waiters[w] = struct{}{}
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			delete(d.waiters, w)
			d.mu.Unlock()
		}()
	}
	d.stats.AddRequests(1)
	if err := wait(ctx, cl.Publish(p.command, p.qos, p.retain, payload)); err != nil {
		switch {
		case ctx.Err() != nil:
			return fail(fmt.Errorf("%w: no acknowledgement: %w", drivers.ErrTimeout, err))
		case notConnected(err):
			return fail(fmt.Errorf("%w: %w (%w)", drivers.ErrDisconnected, err, drivers.ErrNotSent))
		}
		return fail(fmt.Errorf("%w: %w", drivers.ErrDisconnected, err))
	}
	if w == nil {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-lost:
		return fail(fmt.Errorf("%w: connection lost before confirmation on %s", drivers.ErrDisconnected, p.readback))
	case <-ctx.Done():
		return fail(fmt.Errorf("%w: no confirmation on %s (%w)", drivers.ErrTimeout, p.readback, ctx.Err()))
	}
}

// Subscribe implements drivers.Subscriber: it emits a Sample for every
// message on the topics of pts (first the last message of each point, so
// retained values arrive even when they came before Subscribe), and a
// Sample whose Err wraps drivers.ErrTimeout when a point with a
// staleness time gets no message for that long. It returns with
// drivers.ErrDisconnected when the connection is lost; Open then waits
// for the reconnect and Subscribe is called again.
func (d *Device) Subscribe(ctx context.Context, pts []drivers.Point, emit func(drivers.Sample)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt: %s: subscribe: %w", d.name, err)
	}
	ps, err := d.pointsOf(pts)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.filter == "" {
			return fmt.Errorf("mqtt: %s: subscribe %s: write-only point: %w", d.name, p, drivers.ErrUnsupported)
		}
	}
	_, lost, err := d.connection("subscribe")
	if err != nil {
		return err
	}
	if err := d.ensure(ctx, ps); err != nil {
		return err
	}
	sub := &subscription{pts: map[*point]bool{}, emit: emit}
	now := time.Now()
	d.subMu.Lock()
	d.mu.Lock()
	var replay []drivers.Sample
	for _, p := range ps {
		sub.pts[p] = true
		st := d.state[p]
		st.since, st.stale = now, false
		if st.has {
			s := st.last
			s.Value = cloneValue(s.Value)
			replay = append(replay, s)
		}
	}
	d.mu.Unlock()
	for _, s := range replay {
		emit(s)
	}
	d.subs[sub] = struct{}{}
	d.subMu.Unlock()
	d.wake()
	defer func() {
		d.subMu.Lock()
		delete(d.subs, sub)
		d.subMu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("mqtt: %s: subscribe: %w", d.name, ctx.Err())
	case <-lost:
		return fmt.Errorf("mqtt: %s: subscribe: connection to %s lost: %w", d.name, d.brokerHost(), drivers.ErrDisconnected)
	case <-d.stop:
		return fmt.Errorf("mqtt: %s: subscribe: %w", d.name, drivers.ErrClosed)
	}
}

// wake makes the dispatcher recompute its staleness timer.
func (d *Device) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// emit hands s to every subscription of its point.
func (d *Device) emit(ss []drivers.Sample) {
	if len(ss) == 0 {
		return
	}
	d.subMu.Lock()
	defer d.subMu.Unlock()
	for sub := range d.subs {
		for _, s := range ss {
			if sub.pts[s.Point.(*point)] {
				s.Value = cloneValue(s.Value)
				sub.emit(s)
			}
		}
	}
}

// dispatch is the dispatcher goroutine: it decodes queued messages,
// updates the points, confirms writes, emits samples and watches
// staleness, until Close.
func (d *Device) dispatch() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-d.in.notify:
			msgs, dropped := d.in.take()
			if dropped > 0 {
				err := fmt.Errorf("mqtt: %s: %d messages dropped: more than %d topics waiting", d.name, dropped, maxPending)
				d.stats.AddError(err)
				d.log.Warn("mqtt: messages dropped", "err", err)
			}
			for _, m := range msgs {
				d.handle(m)
			}
		case <-timer.C:
		case <-d.kick:
		}
		next := d.checkStale(time.Now())
		timer.Stop()
		if next > 0 {
			timer.Reset(next)
		}
	}
}

// handle processes one message.
func (d *Device) handle(m message) {
	type logLine struct {
		p      *point
		err    error
		quiet  int
		topic  string
		pretty string
	}
	var (
		out  []drivers.Sample
		logs []logLine
	)
	d.mu.Lock()
	for _, p := range d.points {
		if attr, ok := p.homieAttr(m.topic); ok {
			st := d.state[p]
			st.meta = homieMeta(st.meta, attr, string(m.payload))
			if st.has && st.last.Err == nil {
				s := st.last // the value again, with its new metadata
				s.Meta = st.meta
				out = append(out, s)
			}
			continue
		}
		if p.filter == "" || !match(p.filter, m.topic) {
			continue
		}
		st := d.state[p]
		s := drivers.Sample{Point: p, Time: m.at}
		dec, err := p.dec.decode(m.payload)
		if errors.Is(err, errNoMetric) {
			continue // a Sparkplug message about other metrics
		}
		if err != nil {
			s.Err = fmt.Errorf("mqtt: %s: topic %q: %w", d.name, m.topic, err)
			if m.at.Sub(st.lastLog) >= d.logEvery {
				logs = append(logs, logLine{p: p, err: err, quiet: st.quiet, topic: m.topic, pretty: quotePayload(m.payload)})
				st.lastLog, st.quiet = m.at, 0
			} else {
				st.quiet++
			}
		} else {
			s.Value, s.Alarm, s.Meta = dec.value, dec.alarm, dec.meta
			if s.Meta == nil {
				s.Meta = st.meta
			}
			if !dec.time.IsZero() {
				s.Time = dec.time
			}
		}
		st.last, st.has, st.at, st.stale = s, true, m.at, false
		out = append(out, s)
	}
	for w := range d.waiters {
		if w.p.readback != m.topic {
			continue
		}
		dec, err := w.p.rbDec.decode(m.payload)
		if err == nil && sameValue(w.v, dec.value, w.p.tolerance) {
			close(w.done)
			delete(d.waiters, w)
		}
	}
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
	for _, l := range logs {
		d.log.Warn("mqtt: bad payload", "topic", l.topic, "point", l.p.String(), "payload", l.pretty, "err", l.err, "not_logged_since", l.quiet)
	}
	d.emit(out)
}

// checkStale emits a TIMEOUT sample for every subscribed point whose
// staleness time passed without a message, and returns the time until
// the next point may go stale (0 for none).
func (d *Device) checkStale(now time.Time) time.Duration {
	d.subMu.Lock()
	active := map[*point]bool{}
	for sub := range d.subs {
		maps.Copy(active, sub.pts)
	}
	d.subMu.Unlock()
	var out []drivers.Sample
	var next time.Duration
	d.mu.Lock()
	for p := range active {
		st := d.state[p]
		if p.stale <= 0 || st.stale {
			continue
		}
		from := st.since
		if st.at.After(from) {
			from = st.at
		}
		left := from.Add(p.stale).Sub(now)
		if left <= 0 {
			st.stale = true
			out = append(out, drivers.Sample{Point: p, Time: now,
				Err: fmt.Errorf("mqtt: %s: no message on %q for %v: %w", d.name, p.filter, p.stale, drivers.ErrTimeout)})
			continue
		}
		if next == 0 || left < next {
			next = left
		}
	}
	d.mu.Unlock()
	d.emit(out)
	return next
}

// Close implements drivers.Device: it publishes "offline" on the status
// topic (a clean disconnect does not fire the will), disconnects and
// stops the device's goroutines.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	cl, ready := d.cl, d.ready
	d.cl, d.ready = nil, false
	close(d.stop)
	d.mu.Unlock()
	if cl != nil {
		if ready && d.cfg.StatusTopic != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = wait(ctx, cl.Publish(d.cfg.StatusTopic, d.qos, true, "offline"))
			cancel()
		}
		cl.Disconnect(250)
	}
	d.wg.Wait()
	d.stats.SetConnected(false)
	return nil
}

// Stats implements drivers.StatsReporter.
func (d *Device) Stats() drivers.Stats { return d.stats.Stats() }

// Exports implements drivers.Exporter: the PVs of Config.Export.
func (d *Device) Exports() []string {
	if d.exp == nil {
		return nil
	}
	return slices.Clone(d.cfg.Export.PVs)
}

// Export implements drivers.Exporter: it queues u for the exporter, which
// publishes each PV at most once per ExportConfig.MinInterval.
func (d *Device) Export(u drivers.Export) {
	if d.exp != nil {
		d.exp.put(u)
	}
}
