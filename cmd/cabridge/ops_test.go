package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/dbr"
)

// TestMetricsAndStatusPVs runs the daemon with metrics on a free port and
// status PVs: Prometheus sees the device and the CA client, the probes
// answer, and the status PVs count the devices.
func TestMetricsAndStatusPVs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cabridge.yaml")
	cfg := `
status_prefix: "BR:"
metrics: {listen: "127.0.0.1:0"}
devices:
  - {name: oven, driver: sim, config: {signals: [{name: t, kind: constant, value: 21}]}}
pvs:
  - {name: M:T, scan: 100ms, binding: {device: oven, address: t}}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan net.Addr, 1)
	srv := catest.StartIOC(t, func(ctx context.Context, lookup func(string) (string, bool), listening func(*ca.Server)) error {
		a := &app{stdout: io.Discard, stderr: io.Discard, lookupEnv: lookup, onServe: listening,
			onMetrics: func(a net.Addr) { addrs <- a }}
		return a.run(ctx, []string{"run", "--config", path})
	})
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case <-time.After(10 * time.Second):
		t.Fatal("metrics listener did not start")
	}
	c := newClient(t, srv)
	watch(t, c, "M:T").waitFor(t, "21", 10*time.Second, equals(21))
	watch(t, c, "BR:DEVICES_OK").waitFor(t, "1 device OK", 10*time.Second, equals(1))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	watch(t, c, "BR:oven:STATE").waitFor(t, "OK", 10*time.Second, equals(1))
	for name, want := range map[string]string{"BR:DEVICES": "[1]"} {
		ch, err := c.Connect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := ch.Get(ctx, dbr.Long, 1)
		if err != nil || fmt.Sprint(v) != want {
			t.Errorf("%s = %v, %v; want %s", name, v, err, want)
		}
	}
	ch, err := c.Connect(ctx, "BR:VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := ch.Get(ctx, dbr.String, 1); err != nil || !strings.Contains(fmt.Sprint(v), "devel") {
		t.Errorf("BR:VERSION = %v, %v", v, err)
	}
	if _, err := c.Connect(ctx, "BR:HEARTBEAT"); err != nil {
		t.Errorf("BR:HEARTBEAT (iocStats PVs under the status prefix): %v", err)
	}
	body := httpGet(t, base+"/metrics", http.StatusOK)
	for _, want := range []string{`cabridge_device_up{device="oven",driver="sim"} 1`, "cabridge_ca_clients 1", "cabridge_ca_channels "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	httpGet(t, base+"/healthz", http.StatusOK)
	httpGet(t, base+"/readyz", http.StatusOK)
}

// httpGet fetches url and checks the status code.
func httpGet(t *testing.T, url string, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d %s, want %d", url, resp.StatusCode, b, want)
	}
	return string(b)
}
