package mqtt_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/mqtt"
	"github.com/cabridge/cabridge/mapping"
)

// bridged is a mapping.Bridge over one MQTT device, running until the
// test ends.
type bridged struct {
	dev *mqtt.Device
	pvs map[string]ca.PV
}

// startBridge builds the device and the bridge of pvs and runs it.
func startBridge(t *testing.T, b *broker, cfg mqtt.Config, pvs []mapping.PVConfig) *bridged {
	t.Helper()
	d := newDevice(t, b, cfg, nil)
	mc := &mapping.Config{
		Devices: []mapping.DeviceConfig{{Name: "broker", Driver: "mqtt", HealthPrefix: "MQ:",
			Backoff: drivers.Duration(50 * time.Millisecond), MaxBackoff: drivers.Duration(200 * time.Millisecond)}},
		PVs: pvs,
	}
	g := ioc.NewGroup("", nil)
	br, err := mapping.New(mc, map[string]drivers.Device{"broker": d}, g, mapping.Options{})
	if err != nil {
		t.Fatal(err)
	}
	served, err := g.PVs()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &bridged{dev: d, pvs: served}
}

// waitPV waits up to 15 s for the PV's snapshot to satisfy ok.
func (br *bridged) waitPV(t *testing.T, name, what string, ok func(*ca.Snapshot) bool) {
	t.Helper()
	pv := br.pvs[name]
	if pv == nil {
		t.Fatalf("no PV %s", name)
	}
	changed := make(chan struct{}, 1)
	cancel := pv.Subscribe(subFunc(func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}))
	defer cancel()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for !ok(pv.Snapshot()) {
		select {
		case <-changed:
		case <-deadline.C:
			s := pv.Snapshot()
			t.Fatalf("%s: no %s within 15 s; it is %v %v", name, what, s.Value, s.Meta.Alarm)
		}
	}
}

// subFunc is a ca.Subscriber calling f on every update.
type subFunc func()

func (f subFunc) Update(*ca.Snapshot, dbr.EventMask) { f() }

// is returns a check for a first element of v with alarm a.
func is(v float64, a dbr.Alarm) func(*ca.Snapshot) bool {
	return func(s *ca.Snapshot) bool { return dbr.FirstFloat(s.Value) == v && s.Meta.Alarm == a }
}

var (
	noAlarm     = dbr.Alarm{}
	commAlarm   = dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}
	readAlarm   = dbr.Alarm{Status: dbr.StatusRead, Severity: dbr.SeverityInvalid}
	timeoutAlrm = dbr.Alarm{Status: dbr.StatusTimeout, Severity: dbr.SeverityInvalid}
)

// TestBridgeBrokerRestart runs PVs through the mapping layer while the
// broker is killed and restarted: the PVs go INVALID/COMM, the bridge
// resubscribes on reconnect and the values recover; a bad payload gives
// INVALID/READ and a silent topic INVALID/TIMEOUT with the value kept.
func TestBridgeBrokerRestart(t *testing.T) {
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	p.pub("r/temp", `{"v": 20.5, "sev": "MINOR"}`, true) // the retained initial value
	br := startBridge(t, b, mqtt.Config{KeepAlive: drivers.Duration(time.Second)}, []mapping.PVConfig{
		{Name: "R:TEMP", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker", Address: "r/temp",
			Options: map[string]string{"path": "v", "severity_path": "sev"}}},
		{Name: "R:HB", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker", Address: "r/hb",
			Options: map[string]string{"stale": "300ms"}}},
		{Name: "R:WAVE", Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker", Address: "r/wave", Len: 4}},
	})
	minor := dbr.Alarm{Status: dbr.StatusState, Severity: dbr.SeverityMinor}
	br.waitPV(t, "R:TEMP", "the retained 20.5 MINOR", is(20.5, minor))
	p.pub("r/temp", `{"v": 21, "sev": 0}`, false)
	br.waitPV(t, "R:TEMP", "21", is(21, noAlarm))
	p.pub("r/temp", `{"v": "warm"}`, false)
	br.waitPV(t, "R:TEMP", "INVALID/READ keeping 21", is(21, readAlarm))
	p.pub("r/temp", `{"v": 22, "sev": 0}`, false)
	br.waitPV(t, "R:TEMP", "22", is(22, noAlarm))
	p.pub("r/wave", "[1, 2, 3, 4]", false)
	br.waitPV(t, "R:WAVE", "the waveform", func(s *ca.Snapshot) bool {
		return fmt.Sprint(dbr.Elements[float64](s.Value)) == "[1 2 3 4]"
	})
	p.pub("r/hb", "5", false)
	br.waitPV(t, "R:HB", "5", is(5, noAlarm))
	br.waitPV(t, "R:HB", "TIMEOUT keeping 5", is(5, timeoutAlrm))
	p.pub("r/hb", "6", false)
	br.waitPV(t, "R:HB", "6", is(6, noAlarm))

	b.kill()
	br.waitPV(t, "R:TEMP", "INVALID/COMM", is(22, commAlarm))
	br.waitPV(t, "MQ:CONNECTED", "0", func(s *ca.Snapshot) bool { return dbr.FirstFloat(s.Value) == 0 })
	b.restart()
	br.waitPV(t, "MQ:CONNECTED", "1", func(s *ca.Snapshot) bool { return dbr.FirstFloat(s.Value) == 1 })
	p2 := newPeer(t, b, nil)
	p2.pub("r/temp", `{"v": 23, "sev": 0}`, false)
	br.waitPV(t, "R:TEMP", "23 after the restart", is(23, noAlarm))
	p2.pub("r/hb", "7", false)
	br.waitPV(t, "R:HB", "7 after the restart", is(7, noAlarm))
}

// pyepicsGate gates the libca interop test.
var pyepicsGate catest.PyEpics

// TestInteropPyepics drives the bridge with libca: a pyepics monitor sees
// a value published by mosquitto_pub, and a caput on an output PV reaches
// the broker as a JSON command and completes when the readback confirms it.
func TestInteropPyepics(t *testing.T) {
	pyepicsGate.Require(t)
	b := startBroker(t, nil)
	p := newPeer(t, b, nil)
	p.sub("i/#")
	br := startBridge(t, b, mqtt.Config{}, []mapping.PVConfig{
		{Name: "I:TEMP", Scan: mapping.ScanIOIntr, Prec: 2, Binding: mapping.Binding{Device: "broker", Address: "i/temp"}},
		{Name: "I:SP", Direction: mapping.DirOutputReadback, Scan: mapping.ScanIOIntr, Binding: mapping.Binding{Device: "broker",
			Address: "i/sp", Options: map[string]string{"command": "i/sp/set", "template": `{"sp": {value}}`, "readback": "i/sp"}}},
	})
	p.pub("i/temp", "1", true)
	p.pub("i/sp", "0", true)
	br.waitPV(t, "I:SP", "the initial 0", is(0, noAlarm))
	// An instrument: it applies every command and reports the setpoint.
	instr := newPeer(t, b, nil)
	if err := tokenWait(instr.cl.Subscribe("i/sp/set", 1, func(c paho.Client, m paho.Message) {
		var cmd struct{ SP float64 }
		if json.Unmarshal(m.Payload(), &cmd) == nil {
			c.Publish("i/sp", 1, true, fmt.Sprint(cmd.SP)) // not waited for: this is paho's handler
		}
	})); err != nil {
		t.Fatal(err)
	}

	srv := catest.NewServer(t, br.pvs)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := catest.Command(ctx, srv.Env(), filepath.Join("testdata", "monitor_put.py"), "I:TEMP", "36.5", "I:SP", "12.5")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errText strings.Builder
	ready := make(chan struct{})
	var rd sync.WaitGroup
	rd.Go(func() {
		sc := bufio.NewScanner(stderr)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			errText.WriteString(sc.Text() + "\n")
			if sc.Text() == "ready" {
				once()
			}
		}
		once()
		_, _ = io.Copy(io.Discard, stderr)
	})
	select {
	case <-ready:
	case <-ctx.Done():
	}
	mosquittoPub(t, b, "i/temp", "36.5", false)
	rd.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("monitor_put.py: %v\n%s\n%s", err, out.String(), errText.String())
	}
	var res struct {
		MonitorSaw bool      `json:"monitor_saw"`
		Values     []float64 `json:"values"`
		PutStatus  int       `json:"put_status"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("monitor_put.py output %q: %v\n%s", out.String(), err, errText.String())
	}
	if !res.MonitorSaw {
		t.Errorf("the pyepics monitor did not see 36.5: %v", res.Values)
	}
	if res.PutStatus != 1 {
		t.Errorf("caput status %d, want 1", res.PutStatus)
	}
	if m, ok := p.waitMsg("i/sp/set", 5*time.Second, nil); !ok || m != `{"sp": 12.5}` {
		t.Errorf("command on the broker: %q, %v", m, ok)
	}
	br.waitPV(t, "I:SP", "the confirmed 12.5", is(12.5, noAlarm))
}
