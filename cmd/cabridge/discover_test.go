package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startMosquitto runs Debian's mosquitto on a free loopback port until the
// test ends and returns its port.
func startMosquitto(t *testing.T) int {
	t.Helper()
	requirePeer(t, "mosquitto", exec.Command("test", "-x", "/usr/sbin/mosquitto"))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("persistence false\nallow_anonymous true\nlistener %d 127.0.0.1\n", port)
	if os.Geteuid() == 0 {
		conf += "user root\n" // else it drops to "mosquitto", who cannot read the test's files
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/mosquitto", "-c", path)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto does not accept connections: %v\n%s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond) // a port to poll: no event to wait on
	}
}

// TestDiscoverHomie publishes a retained Homie device to mosquitto and
// checks that discover-homie prints a configuration that validates, with
// the properties' metadata as PV metadata.
func TestDiscoverHomie(t *testing.T) {
	requirePeer(t, "mosquitto_pub", exec.Command("test", "-x", "/usr/bin/mosquitto_pub"))
	port := startMosquitto(t)
	for topic, payload := range map[string]string{
		"homie/boiler/$homie":                   "4.0",
		"homie/boiler/$name":                    "Boiler",
		"homie/boiler/$nodes":                   "water",
		"homie/boiler/water/$name":              "Water",
		"homie/boiler/water/$properties":        "temp,setpoint,mode",
		"homie/boiler/water/temp/$name":         "water temperature",
		"homie/boiler/water/temp/$datatype":     "float",
		"homie/boiler/water/temp/$unit":         "°C",
		"homie/boiler/water/temp/$format":       "0:100",
		"homie/boiler/water/setpoint/$datatype": "float",
		"homie/boiler/water/setpoint/$unit":     "°C",
		"homie/boiler/water/setpoint/$settable": "true",
		"homie/boiler/water/mode/$datatype":     "enum",
		"homie/boiler/water/mode/$format":       "off,eco,comfort",
		"homie/boiler/water/mode/$settable":     "true",
	} {
		out, err := exec.Command("/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-r", "-q", "1",
			"-t", topic, "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
	}
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: mapLookup(nil)}
	err := a.run(t.Context(), []string{"discover-homie", "-broker", fmt.Sprintf("tcp://127.0.0.1:%d", port), "-wait", "300ms"})
	if err != nil {
		t.Fatalf("discover-homie: %v\n%s", err, stderr.String())
	}
	cfg := stdout.String()
	for _, want := range []string{"driver: mqtt", "egu: °C", "lopr: 0", "hopr: 100", "enum_strings:", "- comfort", "direction: output_readback"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}
	path := filepath.Join(t.TempDir(), "homie.yaml")
	if err := os.WriteFile(path, stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range configErrors(t, path) {
		t.Errorf("generated config: %v\n%s", e, cfg)
	}
}
