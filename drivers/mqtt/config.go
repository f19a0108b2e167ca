package mqtt

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// Session says whether the broker keeps the session (subscriptions and
// queued QoS 1/2 messages) while the bridge is away.
type Session string

// The session kinds.
const (
	SessionClean      Session = "clean"      // a new session on every connect (the default)
	SessionPersistent Session = "persistent" // the broker keeps the session for the client id
)

// Config is the config section of an MQTT device (a broker connection).
// See the package documentation for an example.
type Config struct {
	// Broker is the broker URL: tcp://host:1883, ssl://host:8883 (also
	// tls:// and mqtts://), ws://host:port/path or wss://.
	Broker string `json:"broker"`
	// ClientID is the MQTT client id; default "cabridge-" and the
	// device's name. A persistent session needs a stable one.
	ClientID string `json:"client_id"`
	// Username and Password authenticate the bridge, when set.
	Username string `json:"username"`
	Password string `json:"password"` // see Username
	// TLS configures ssl:// and wss:// connections.
	TLS *TLSConfig `json:"tls"`
	// KeepAlive is the MQTT keepalive interval; default 30s.
	KeepAlive drivers.Duration `json:"keepalive"`
	// Session is clean (default) or persistent.
	Session Session `json:"session"`
	// QoS is the default quality of service of subscriptions and
	// publishes (0, 1 or 2); default 1. Points may override it for their
	// publishes.
	QoS *int `json:"qos"`
	// StatusTopic, when set, announces the bridge: "online" is published
	// there, retained, on every connect, and the broker publishes the
	// retained last will "offline" when the bridge goes away.
	StatusTopic string `json:"status_topic"`
	// Subscriptions are extra topic filters (with + and # wildcards) to
	// subscribe to instead of the points' own topics: one subscription to
	// "plant/+/temp" feeds every point on plant/<room>/temp. The points'
	// topics that no filter covers are subscribed to as well.
	Subscriptions []string `json:"subscriptions"`
	// Stale is the default staleness time of the points: a point that
	// gets no message for this long goes to INVALID/TIMEOUT, keeping its
	// value, until the next message. 0 means never. Points may override it.
	Stale drivers.Duration `json:"stale"`
	// ReadWait is how long a Read waits for the first message of a point
	// (usually the retained one) before it reports a timeout; default 1s.
	ReadWait drivers.Duration `json:"read_wait"`
	// ReconnectMax caps the delay between reconnect attempts; default 10s.
	ReconnectMax drivers.Duration `json:"reconnect_max"`
	// LogEvery is the least time between two log lines about bad payloads
	// of one point; default 1m. Every bad payload still sets the alarm.
	LogEvery drivers.Duration `json:"log_every"`
	// Export publishes PVs of the bridge to the broker.
	Export *ExportConfig `json:"export"`
	// SparkplugRebirth asks every Sparkplug B edge node that a point
	// reads (spBv1.0/GROUP/+/NODE...) for a rebirth after each connect
	// (an NCMD setting "Node Control/Rebirth"), as a Sparkplug host
	// application does: the BIRTH that follows gives the metrics'
	// aliases and metadata, which DATA messages do not repeat.
	SparkplugRebirth bool `json:"sparkplug_rebirth"`
}

// TLSConfig is the TLS set-up of a connection.
type TLSConfig struct {
	// CAFile is a PEM file of the CAs that sign the broker's certificate;
	// empty means the system roots.
	CAFile string `json:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM), for
	// brokers that require client certificates.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"` // see CertFile
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string `json:"server_name"`
}

// ExportConfig says which PVs of the bridge to publish and how. Each PV
// is published as JSON on change, at most once per MinInterval (the last
// value of an interval is published at its end):
//
//	{"value": 21.5, "severity": "MINOR", "status": "HIGH", "timestamp": "2026-01-02T03:04:05.123Z"}
type ExportConfig struct {
	// PVs are the names of the PVs to publish (any PV of the bridge).
	PVs []string `json:"pvs"`
	// Topic is the topic template; "{pv}" is replaced by the PV name (with
	// '+', '#' and '/' replaced by '_'). Default "cabridge/{pv}".
	Topic string `json:"topic"`
	// MinInterval is the least time between two publishes of one PV;
	// default 1s.
	MinInterval drivers.Duration `json:"min_interval"`
	// QoS of the publishes; default the device's.
	QoS *int `json:"qos"`
	// Retain makes the broker keep the last value of each PV.
	Retain bool `json:"retain"`
}

// Defaults of Config.
const (
	DefaultKeepAlive    = 30 * time.Second
	DefaultQoS          = 1
	DefaultReadWait     = time.Second
	DefaultReconnectMax = 10 * time.Second
	DefaultLogEvery     = time.Minute
	DefaultExportTopic  = "cabridge/{pv}"
	DefaultExportEvery  = time.Second
)

// Validate checks c without I/O and reports every problem, as
// drivers.ConfigErrors joined.
func (c *Config) Validate() error {
	var errs drivers.ConfigErrors
	if c.Broker == "" {
		errs.Add("broker", nil, "missing (want tcp://host:1883, ssl://, ws:// or wss://)")
	} else if u, err := url.Parse(c.Broker); err != nil || u.Host == "" {
		errs.Add("broker", c.Broker, "not a URL with a host")
	} else {
		switch u.Scheme {
		case "tcp", "mqtt", "ws":
			if c.TLS != nil {
				errs.Add("tls", nil, "set, but the broker URL %q is not ssl://, tls://, mqtts:// or wss://", c.Broker)
			}
		case "ssl", "tls", "mqtts", "tcps", "wss":
		default:
			errs.Add("broker", c.Broker, "unknown scheme %q (want tcp, ssl, ws or wss)", u.Scheme)
		}
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		errs.Add("tls", nil, "cert_file and key_file go together")
	}
	if c.KeepAlive < 0 {
		errs.Add("keepalive", c.KeepAlive, "must not be negative")
	}
	switch c.Session {
	case "", SessionClean, SessionPersistent:
	default:
		errs.Add("session", string(c.Session), "want clean or persistent")
	}
	if c.QoS != nil && (*c.QoS < 0 || *c.QoS > 2) {
		errs.Add("qos", *c.QoS, "want 0, 1 or 2")
	}
	if c.StatusTopic != "" {
		if err := validTopic(c.StatusTopic); err != nil {
			errs.Add("status_topic", c.StatusTopic, "%v", err)
		}
	}
	for i, f := range c.Subscriptions {
		if err := validFilter(f); err != nil {
			errs.Add(fmt.Sprintf("subscriptions[%d]", i), f, "%v", err)
		}
	}
	for k, d := range map[string]drivers.Duration{"stale": c.Stale, "read_wait": c.ReadWait, "reconnect_max": c.ReconnectMax, "log_every": c.LogEvery} {
		if d < 0 {
			errs.Add(k, d, "must not be negative")
		}
	}
	if e := c.Export; e != nil {
		if len(e.PVs) == 0 {
			errs.Add("export.pvs", nil, "at least one PV is required")
		}
		for i, pv := range e.PVs {
			if pv == "" {
				errs.Add(fmt.Sprintf("export.pvs[%d]", i), nil, "empty PV name")
			}
		}
		if e.Topic != "" {
			if err := validTopic(strings.ReplaceAll(e.Topic, "{pv}", "x")); err != nil {
				errs.Add("export.topic", e.Topic, "%v", err)
			}
		}
		if e.MinInterval < 0 {
			errs.Add("export.min_interval", e.MinInterval, "must not be negative")
		}
		if e.QoS != nil && (*e.QoS < 0 || *e.QoS > 2) {
			errs.Add("export.qos", *e.QoS, "want 0, 1 or 2")
		}
	}
	return errs.Err()
}

// orDur returns d, or def when d is 0.
func orDur(d drivers.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
