// Package ops serves the daemon's operations endpoints: Prometheus
// metrics of the CA server and of every device, and the /healthz and
// /readyz probes, on an HTTP listener that is off unless configured.
//
// Everything is read at scrape time from a Source, so the metrics never
// lag and cost nothing between scrapes; the registry is the package's
// own (no global prometheus registry).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/mapping"
)

// Source tells the endpoints what the daemon is doing. Its functions are
// called from HTTP handlers, concurrently, and must be safe for that.
type Source struct {
	// Version is the daemon's version, for cabridge_build_info.
	Version string
	// Server returns the CA server's counters, and false until the
	// server listens.
	Server func() (ca.Stats, bool)
	// Devices returns the devices' status, in config order.
	Devices func() []mapping.DeviceStatus
	// Drivers returns the driver name of each device, for labels.
	Drivers func() map[string]string
	// Reloads returns the numbers of applied and rejected reloads.
	Reloads func() (applied, rejected uint64)
}

// NewRegistry returns a registry with the daemon's collector, the Go
// runtime's and the process's.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: src}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler returns the HTTP handler: /metrics (Prometheus text format),
// /healthz (200 while the CA server serves) and /readyz (200 when the CA
// server serves and every device is connected; 503 naming the others).
func Handler(reg *prometheus.Registry, src Source) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := src.Server(); !ok {
			http.Error(w, "ca server not listening yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := src.Server(); !ok {
			http.Error(w, "ca server not listening yet", http.StatusServiceUnavailable)
			return
		}
		var bad []string
		for _, d := range src.Devices() {
			if d.State != mapping.StateOK {
				bad = append(bad, fmt.Sprintf("%s: %s", d.Name, d.State))
			}
		}
		if len(bad) > 0 {
			http.Error(w, "devices not ready: "+strings.Join(bad, ", "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve serves h on addr ("127.0.0.1:9102", ":9102") until ctx is done,
// then shuts the HTTP server down. It returns the listen error at once,
// and nil after a clean shutdown. ready, if not nil, gets the bound
// address once it listens.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ops: metrics listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if ready != nil {
		ready(ln.Addr())
	}
	log.Info("ops: serving metrics and probes", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("ops: %w", serr)
	}
	return err
}

// collector reads the Source at each scrape.
type collector struct{ src Source }

// descs of the metrics, built once per collector use.
//
//nolint:gochecknoglobals // read-only metric descriptions
var (
	buildInfo       = prometheus.NewDesc("cabridge_build_info", "Version of cabridge and of Go it was built with.", []string{"version", "goversion"}, nil)
	caClients       = prometheus.NewDesc("cabridge_ca_clients", "CA clients (TCP circuits) connected now.", nil, nil)
	caClientsTotal  = prometheus.NewDesc("cabridge_ca_clients_total", "CA circuits accepted since start.", nil, nil)
	caChannels      = prometheus.NewDesc("cabridge_ca_channels", "CA channels open now.", nil, nil)
	caSubs          = prometheus.NewDesc("cabridge_ca_subscriptions", "CA monitors (subscriptions) active now.", nil, nil)
	caMessages      = prometheus.NewDesc("cabridge_ca_messages_received_total", "CA requests received over TCP.", nil, nil)
	caBytesIn       = prometheus.NewDesc("cabridge_ca_received_bytes_total", "Bytes received from CA clients over TCP.", nil, nil)
	caBytesOut      = prometheus.NewDesc("cabridge_ca_sent_bytes_total", "Bytes sent to CA clients over TCP.", nil, nil)
	caSearches      = prometheus.NewDesc("cabridge_ca_searches_total", "PV names searched for (UDP and TCP).", nil, nil)
	caSearchHits    = prometheus.NewDesc("cabridge_ca_search_hits_total", "Searches answered.", nil, nil)
	caUpdates       = prometheus.NewDesc("cabridge_ca_monitor_updates_total", "Monitor updates sent.", nil, nil)
	caCoalesced     = prometheus.NewDesc("cabridge_ca_monitor_updates_coalesced_total", "Monitor updates dropped because a newer one replaced them before a slow client read them.", nil, nil)
	caPuts          = prometheus.NewDesc("cabridge_ca_puts_total", "CA puts handled.", nil, nil)
	caUDPErrors     = prometheus.NewDesc("cabridge_ca_udp_errors_total", "Failed UDP reads and writes.", nil, nil)
	caCloses        = prometheus.NewDesc("cabridge_ca_circuits_closed_total", "CA circuits closed, by reason.", []string{"reason"}, nil)
	devUp           = prometheus.NewDesc("cabridge_device_up", "1 when the device is connected and answering.", []string{"device", "driver"}, nil)
	devState        = prometheus.NewDesc("cabridge_device_state", "The device's state: 1 for the current one.", []string{"device", "state"}, nil)
	devRequests     = prometheus.NewDesc("cabridge_device_requests_total", "Protocol requests sent to the device.", []string{"device"}, nil)
	devErrors       = prometheus.NewDesc("cabridge_device_errors_total", "Failed requests and connection attempts.", []string{"device"}, nil)
	devException    = prometheus.NewDesc("cabridge_device_last_exception", "Protocol exception code of the device's last error reply (Modbus), 0 for none.", []string{"device"}, nil)
	devPoll         = prometheus.NewDesc("cabridge_device_poll_duration_seconds", "Duration of the device's scans (poll cycles).", []string{"device"}, nil)
	devPollLast     = prometheus.NewDesc("cabridge_device_poll_last_seconds", "Duration of the device's last scan.", []string{"device"}, nil)
	devPollMax      = prometheus.NewDesc("cabridge_device_poll_max_seconds", "Longest scan of the device.", []string{"device"}, nil)
	devOverruns     = prometheus.NewDesc("cabridge_device_poll_overruns_total", "Scans skipped because the previous one was still running.", []string{"device"}, nil)
	reloadsApplied  = prometheus.NewDesc("cabridge_config_reloads_total", "Configuration reloads, by result.", []string{"result"}, nil)
	allDeviceStates = []mapping.DeviceState{mapping.StateConnecting, mapping.StateOK, mapping.StateFailing, mapping.StateDisconnected}
)

// Describe sends no descriptions: the collector is unchecked, since its
// device labels change with the configuration.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the Source.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(buildInfo, 1, c.src.Version, runtime.Version())
	if st, ok := c.src.Server(); ok {
		gauge(caClients, float64(st.Clients))
		counter(caClientsTotal, st.ClientsTotal)
		gauge(caChannels, float64(st.Channels))
		gauge(caSubs, float64(st.Subscriptions))
		counter(caMessages, st.MessagesIn)
		counter(caBytesIn, st.BytesIn)
		counter(caBytesOut, st.BytesOut)
		counter(caSearches, st.Searches)
		counter(caSearchHits, st.SearchHits)
		counter(caUpdates, st.Updates)
		counter(caCoalesced, st.Coalesced)
		counter(caPuts, st.Puts)
		counter(caUDPErrors, st.UDPErrors)
		for r, n := range st.Closes {
			counter(caCloses, n, r.String())
		}
	}
	drv := c.src.Drivers()
	for _, d := range c.src.Devices() {
		up := 0.0
		if d.State == mapping.StateOK {
			up = 1
		}
		gauge(devUp, up, d.Name, drv[d.Name])
		for _, s := range allDeviceStates {
			v := 0.0
			if s == d.State {
				v = 1
			}
			gauge(devState, v, d.Name, s.String())
		}
		counter(devRequests, d.Stats.Requests, d.Name)
		counter(devErrors, d.Stats.Errors, d.Name)
		gauge(devException, float64(d.Stats.LastException), d.Name)
		ch <- prometheus.MustNewConstSummary(devPoll, d.Polls, d.PollTotal.Seconds(), nil, d.Name)
		gauge(devPollLast, d.PollLast.Seconds(), d.Name)
		gauge(devPollMax, d.PollMax.Seconds(), d.Name)
		counter(devOverruns, d.Overruns, d.Name)
	}
	if c.src.Reloads != nil {
		ok, bad := c.src.Reloads()
		counter(reloadsApplied, ok, "applied")
		counter(reloadsApplied, bad, "rejected")
	}
}
