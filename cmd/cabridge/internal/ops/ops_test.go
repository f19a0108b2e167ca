package ops

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/mapping"
)

// fakeSource is a Source with fixed values.
func fakeSource(listening bool, states ...mapping.DeviceState) Source {
	return Source{
		Version: "v1.2.3",
		Server: func() (ca.Stats, bool) {
			return ca.Stats{Clients: 3, Channels: 12, Subscriptions: 7, Updates: 99, Coalesced: 4,
				Closes: map[ca.CloseReason]uint64{ca.CloseClientEOF: 2}}, listening
		},
		Devices: func() []mapping.DeviceStatus {
			var out []mapping.DeviceStatus
			for i, s := range states {
				out = append(out, mapping.DeviceStatus{Name: []string{"plc1", "gauge"}[i], State: s,
					Stats: drivers.Stats{Requests: 100, Errors: 2, LastException: 2}, Polls: 10,
					PollTotal: 500 * time.Millisecond, PollLast: 40 * time.Millisecond, PollMax: 90 * time.Millisecond})
			}
			return out
		},
		Drivers: func() map[string]string { return map[string]string{"plc1": "modbus", "gauge": "serial"} },
		Reloads: func() (uint64, uint64) { return 1, 2 },
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestMetrics scrapes the handler and finds the CA server's and the
// devices' metrics with their labels.
func TestMetrics(t *testing.T) {
	src := fakeSource(true, mapping.StateOK, mapping.StateDisconnected)
	h := Handler(NewRegistry(src), src)
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`cabridge_build_info{goversion="go`,
		`cabridge_ca_clients 3`,
		`cabridge_ca_channels 12`,
		`cabridge_ca_subscriptions 7`,
		`cabridge_ca_monitor_updates_total 99`,
		`cabridge_ca_monitor_updates_coalesced_total 4`,
		`cabridge_ca_circuits_closed_total{reason="client closed"} 2`,
		`cabridge_device_up{device="plc1",driver="modbus"} 1`,
		`cabridge_device_up{device="gauge",driver="serial"} 0`,
		`cabridge_device_state{device="gauge",state="Disconnected"} 1`,
		`cabridge_device_state{device="gauge",state="OK"} 0`,
		`cabridge_device_requests_total{device="plc1"} 100`,
		`cabridge_device_errors_total{device="plc1"} 2`,
		`cabridge_device_last_exception{device="plc1"} 2`,
		`cabridge_device_poll_duration_seconds_sum{device="plc1"} 0.5`,
		`cabridge_device_poll_duration_seconds_count{device="plc1"} 10`,
		`cabridge_device_poll_max_seconds{device="plc1"} 0.09`,
		`cabridge_config_reloads_total{result="rejected"} 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// TestProbes checks /healthz and /readyz in each state.
func TestProbes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		src           Source
		health, ready int
		readyContains string
	}{
		{"starting", fakeSource(false, mapping.StateConnecting), 503, 503, "not listening"},
		{"all ok", fakeSource(true, mapping.StateOK, mapping.StateOK), 200, 200, "ok"},
		{"one down", fakeSource(true, mapping.StateOK, mapping.StateFailing), 200, 503, "gauge: Failing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handler(NewRegistry(tc.src), tc.src)
			if code, _ := get(t, h, "/healthz"); code != tc.health {
				t.Errorf("/healthz: %d, want %d", code, tc.health)
			}
			code, body := get(t, h, "/readyz")
			if code != tc.ready || !strings.Contains(body, tc.readyContains) {
				t.Errorf("/readyz: %d %q, want %d with %q", code, body, tc.ready, tc.readyContains)
			}
		})
	}
}
