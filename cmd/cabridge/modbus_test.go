package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

// pyepicsGate gates the tests that drive the daemon with libca.
//
//nolint:gochecknoglobals // a test binary's once-per-binary peer check
var pyepicsGate catest.PyEpics

// requirePeer skips t when a real peer is missing, naming the install
// command, or fails it when CI is "true".
func requirePeer(t *testing.T, what string, check *exec.Cmd) {
	t.Helper()
	out, err := check.CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s is missing (%v: %s); install it with: sudo make peers", what, err, strings.TrimSpace(string(out)))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pymodbusPLC is a pymodbus server standing in for a PLC.
type pymodbusPLC struct {
	port  int
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	done  chan error // nil once stopped
}

// startPymodbus starts testdata/pymodbus_plc.py on port (0: a free one)
// and returns once it serves; it is stopped when the test ends.
func startPymodbus(t *testing.T, port int) *pymodbusPLC {
	t.Helper()
	requirePeer(t, "pymodbus", exec.Command(catest.Python, "-c", "import pymodbus.server.async_io"))
	cmd := exec.Command(catest.Python, "testdata/pymodbus_plc.py", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pymodbusPLC{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			n, _ := strconv.Atoi(strings.TrimSpace(sc.Text()))
			ports <- n
		}
		close(ports)
		for sc.Scan() { // drain until the process exits
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(p.stop)
	select {
	case n := <-ports:
		if n == 0 {
			t.Fatalf("pymodbus did not start: %s", stderr.String())
		}
		p.port = n
	case <-time.After(20 * time.Second):
		t.Fatalf("pymodbus did not start within 20s: %s", stderr.String())
	}
	return p
}

// stop ends the server (closing stdin, then killing it) and waits.
func (p *pymodbusPLC) stop() {
	if p.done == nil {
		return
	}
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.done = nil
}

// startDaemon writes config to a file and runs `cabridge run` on it on
// loopback until the test ends; it returns the CA server.
func startDaemon(t *testing.T, config string) *ca.Server {
	t.Helper()
	srv, _ := startDaemonLog(t, config)
	return srv
}

// startDaemonLog is startDaemon that also returns the daemon's log.
func startDaemonLog(t *testing.T, config string) (*ca.Server, *lockedBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cabridge.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	return catest.StartIOC(t, func(ctx context.Context, lookup func(string) (string, bool), listening func(*ca.Server)) error {
		a := &app{stdout: &logs, stderr: &logs, lookupEnv: lookup, onServe: listening}
		return a.run(ctx, []string{"run", "--config", path})
	}), &logs
}

// clientEnv returns the libca settings that reach srv by TCP only.
func clientEnv(t *testing.T, srv *ca.Server) []string {
	return []string{"EPICS_CA_AUTO_ADDR_LIST=NO", "EPICS_CA_ADDR_LIST=",
		"EPICS_CA_NAME_SERVERS=" + srv.TCPAddr().String(), fmt.Sprintf("EPICS_CA_REPEATER_PORT=%d", catest.FreePort(t))}
}

// typeCase is one Modbus data type and byte order: the value put through
// CA and the registers the PLC must then hold (nil: not checked).
type typeCase struct {
	name, addr, typ, order string
	extra                  string // more binding keys
	value                  any
	regs                   []uint16
}

//nolint:gochecknoglobals // read-only table
var typeCases = []typeCase{
	{"INT16", "hr:10", "int16", "", "", -1234, []uint16{0xFB2E}},
	{"UINT16", "hr:11", "uint16", "", "", 54321, []uint16{0xD431}},
	{"INT32_ABCD", "hr:20", "int32", "ABCD", "", 123456789, []uint16{0x075B, 0xCD15}},
	{"INT32_DCBA", "hr:22", "int32", "DCBA", "", 123456789, []uint16{0x15CD, 0x5B07}},
	{"INT32_BADC", "hr:24", "int32", "BADC", "", 123456789, []uint16{0x5B07, 0x15CD}},
	{"INT32_CDAB", "hr:26", "int32", "CDAB", "", 123456789, []uint16{0xCD15, 0x075B}},
	{"UINT32_ABCD", "hr:30", "uint32", "ABCD", "", 4000000000, []uint16{0xEE6B, 0x2800}},
	{"UINT32_CDAB", "hr:32", "uint32", "CDAB", "", 4000000000, []uint16{0x2800, 0xEE6B}},
	{"UINT32_DCBA", "hr:34", "uint32", "DCBA", "", 4000000000, []uint16{0x0028, 0x6BEE}},
	{"UINT32_BADC", "hr:36", "uint32", "BADC", "", 4000000000, []uint16{0x6BEE, 0x0028}},
	{"FLOAT32_ABCD", "hr:40", "float32", "ABCD", "", 1.5, []uint16{0x3FC0, 0x0000}},
	{"FLOAT32_CDAB", "hr:42", "float32", "CDAB", "", 1.5, []uint16{0x0000, 0x3FC0}},
	{"FLOAT32_BADC", "hr:44", "float32", "BADC", "", 1.5, []uint16{0xC03F, 0x0000}},
	{"FLOAT32_DCBA", "hr:46", "float32", "DCBA", "", 1.5, []uint16{0x0000, 0xC03F}},
	{"FLOAT32_LE", "hr:48", "FLOAT32_LE", "", "", -2.5, []uint16{0x0000, 0xC020}}, // EPICS name: CDAB
	{"INT64_ABCD", "hr:50", "int64", "ABCD", "", 1234567890123, []uint16{0x0000, 0x011F, 0x71FB, 0x04CB}},
	{"INT64_DCBA", "hr:54", "int64", "DCBA", "", 1234567890123, []uint16{0xCB04, 0xFB71, 0x1F01, 0x0000}},
	{"INT64_BADC", "hr:58", "int64", "BADC", "", -1234567890123, nil},
	{"INT64_CDAB", "hr:62", "int64", "CDAB", "", -1234567890123, nil},
	{"UINT64_ABCD", "hr:66", "uint64", "ABCD", "", 9007199254740993.0 - 1, nil},
	{"UINT64_DCBA", "hr:70", "uint64", "DCBA", "", 77, []uint16{0x4D00, 0, 0, 0}},
	{"FLOAT64_ABCD", "hr:80", "float64", "ABCD", "", 3.25, []uint16{0x400A, 0, 0, 0}},
	{"FLOAT64_DCBA", "hr:84", "float64", "DCBA", "", 3.25, []uint16{0, 0, 0, 0x0A40}},
	{"FLOAT64_BADC", "hr:88", "float64", "BADC", "", -1e-3, nil},
	{"FLOAT64_CDAB", "hr:92", "float64", "CDAB", "", 6.02e23, nil},
	{"BCD", "hr:100", "bcd", "", "", 1234, []uint16{0x1234}},
	{"BCD_SIGNED", "hr:101", "bcd_signed", "", "", -123, nil},
	{"INT16_SM", "hr:102", "int16_sm", "", "", -5, []uint16{0x8005}},
	{"STRING", "hr:110", "string", "", "len: 8", "PUMP-7", []uint16{0x5055, 0x4D50, 0x2D37, 0x0000}},
	{"STRING_LOW", "hr:120", "string_low", "", "len: 4", "ab", []uint16{0x0061, 0x0062, 0, 0}},
	{"STRING_BA", "hr:130", "string", "BA", "len: 4", "ab", []uint16{0x6261, 0}},
	{"SCALED", "hr:140", "uint16", "", "scale: 0.1", 12.3, []uint16{123}},
	{"BIT", "hr:150", "", "", "bit: 3", 1, []uint16{0x0008}},
	{"COIL", "coil:5", "", "", "", 1, nil},
}

// TestModbusTypesThroughLibca puts every Modbus data type and byte order
// through libca (pyepics) into a real Modbus server (pymodbus), reads it
// back through a second PV polled from the server, and checks the
// registers on the wire with mbpoll, a third-party Modbus client.
func TestModbusTypesThroughLibca(t *testing.T) {
	pyepicsGate.Require(t)
	requirePeer(t, "mbpoll", exec.Command("mbpoll", "-V"))
	plc := startPymodbus(t, 0)
	var b strings.Builder
	fmt.Fprintf(&b, "log: {level: warn}\ndevices:\n  - name: plc\n    driver: modbus\n    config: {address: \"127.0.0.1:%d\", timeout: 2s}\npvs:\n", plc.port)
	var cases [][3]any
	for _, c := range typeCases {
		binding := fmt.Sprintf("device: plc, address: %q", c.addr)
		if c.typ != "" {
			binding += fmt.Sprintf(", type: %s", c.typ)
		}
		if c.order != "" {
			binding += fmt.Sprintf(", order: %s", c.order)
		}
		if c.extra != "" {
			binding += ", " + c.extra
		}
		typ := ""
		if c.name == "BIT" || c.name == "COIL" {
			typ = "    type: long\n"
		}
		fmt.Fprintf(&b, "  - name: MB:%s\n%s    direction: output\n    binding: {%s}\n", c.name, typ, binding)
		fmt.Fprintf(&b, "  - name: MB:%s:RB\n%s    scan: 100ms\n    binding: {%s}\n", c.name, typ, binding)
		cases = append(cases, [3]any{"MB:" + c.name, "MB:" + c.name + ":RB", c.value})
	}
	srv := startDaemon(t, b.String())
	arg, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := catest.Command(ctx, clientEnv(t, srv), "testdata/roundtrip.py", string(arg))
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyepics: %v\n%s", err, stderr.String())
	}
	var got map[string]struct {
		Put   any    `json:"put"`
		RB    string `json:"rb"`
		Sevr  any    `json:"sevr"`
		Match bool   `json:"match"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyepics printed %q: %v", out, err)
	}
	for _, c := range typeCases {
		r, ok := got["MB:"+c.name]
		switch {
		case !ok:
			t.Errorf("%s: no result", c.name)
		case fmt.Sprint(r.Put) != "1":
			t.Errorf("%s: caput %v = %v", c.name, c.value, r.Put)
		case !r.Match:
			t.Errorf("%s: put %v, readback shows %q (severity %v)", c.name, c.value, r.RB, r.Sevr)
		}
		if c.regs == nil {
			continue
		}
		if regs := mbpollRead(t, plc.port, c.addr, len(c.regs)); fmt.Sprint(regs) != fmt.Sprint(c.regs) {
			t.Errorf("%s: %s holds %04X, want %04X", c.name, c.addr, regs, c.regs)
		}
	}
}

// mbpollValue matches a value line of mbpoll's output: "[10]: 	0x3FC0".
var mbpollValue = regexp.MustCompile(`(?m)^\[(\d+)\]:\s+0x([0-9A-Fa-f]+)`)

// mbpollRead reads n holding registers at addr ("hr:10") with mbpoll and
// returns them.
func mbpollRead(t *testing.T, port int, addr string, n int) []uint16 {
	t.Helper()
	_, off, _ := strings.Cut(addr, ":")
	kind := "4:hex"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mbpoll", "-m", "tcp", "-p", strconv.Itoa(port), "-a", "1", "-t", kind,
		"-r", off, "-c", strconv.Itoa(n), "-0", "-1", "127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %s: %v\n%s", addr, err, out)
	}
	var regs []uint16
	for _, m := range mbpollValue.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseUint(m[2], 16, 16)
		regs = append(regs, uint16(v))
	}
	if len(regs) != n {
		t.Fatalf("mbpoll %s: %d values in:\n%s", addr, len(regs), out)
	}
	return regs
}

// monitor is a CA subscription's updates, as DBR_TIME_DOUBLE.
type monitor struct {
	name    string
	updates chan client.Update
}

// watch subscribes to name (value and alarm events) on srv with the
// project's Go client.
func watch(t *testing.T, c *client.Client, name string) *monitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, name)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	m := &monitor{name: name, updates: make(chan client.Update, 1024)}
	sub, err := ch.Subscribe(dbr.TimeDouble, 1, dbr.EventValue|dbr.EventAlarm, func(u client.Update) {
		select {
		case m.updates <- u:
		default: // the test only looks for the newest states
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Cancel() })
	return m
}

// waitFor waits until an update satisfies ok (nil ok: until an update
// with an error, such as a disconnect), failing the test after timeout
// with what was seen last.
func (m *monitor) waitFor(t *testing.T, what string, timeout time.Duration, ok func(v float64, a dbr.Alarm) bool) {
	t.Helper()
	deadline := time.After(timeout)
	var last client.Update
	for {
		select {
		case u := <-m.updates:
			last = u
			if ok == nil && u.Err != nil {
				return
			}
			if ok != nil && u.Err == nil && u.Value != nil && ok(dbr.FirstFloat(u.Value), u.Meta.Alarm) {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no update with %s within %v (last: %v %+v %v)", m.name, what, timeout, last.Value, last.Meta.Alarm, last.Err)
		}
	}
}

// newClient returns a Go CA client of srv, closed when the test ends.
func newClient(t *testing.T, srv *ca.Server) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{NameServers: []string{srv.TCPAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func noAlarm(a dbr.Alarm) bool { return a.Severity == dbr.SeverityNone }

func isAlarm(s dbr.Status) func(float64, dbr.Alarm) bool {
	return func(_ float64, a dbr.Alarm) bool { return a.Severity == dbr.SeverityInvalid && a.Status == s }
}

func equals(want float64) func(float64, dbr.Alarm) bool {
	return func(v float64, a dbr.Alarm) bool { return v == want && noAlarm(a) }
}

// TestModbusPLCRestart kills the Modbus server in the middle of polling:
// the PVs go INVALID/COMM keeping their value, the health PV says
// disconnected, and once the server is back on the same port everything
// recovers without restarting cabridge.
func TestModbusPLCRestart(t *testing.T) {
	requirePeer(t, "mbpoll", exec.Command("mbpoll", "-V"))
	plc := startPymodbus(t, 0)
	srv, logs := startDaemonLog(t, fmt.Sprintf(`
devices:
  - name: plc
    driver: modbus
    timeout: 1s
    backoff: 100ms
    max_backoff: 500ms
    config: {address: "127.0.0.1:%d", timeout: 500ms}
pvs:
  - name: R:VAL
    scan: 100ms
    binding: {device: plc, address: "hr:7"}
`, plc.port))
	c := newClient(t, srv)
	val, conn := watch(t, c, "R:VAL"), watch(t, c, "cabridge:plc:CONNECTED")
	mbpollWrite(t, plc.port, 7, 42)
	val.waitFor(t, "42", 10*time.Second, equals(42))
	conn.waitFor(t, "CONNECTED 1", 10*time.Second, func(v float64, _ dbr.Alarm) bool { return v == 1 })

	plc.stop()
	val.waitFor(t, "INVALID/COMM", 10*time.Second, func(v float64, a dbr.Alarm) bool {
		return v == 42 && a.Severity == dbr.SeverityInvalid && a.Status == dbr.StatusComm
	})
	conn.waitFor(t, "CONNECTED 0", 10*time.Second, func(v float64, _ dbr.Alarm) bool { return v == 0 })

	back := startPymodbus(t, plc.port) // a fresh PLC: its registers are 0 again
	mbpollWrite(t, back.port, 7, 43)
	val.waitFor(t, "43 without alarm", 20*time.Second, equals(43))
	conn.waitFor(t, "CONNECTED 1", 10*time.Second, func(v float64, _ dbr.Alarm) bool { return v == 1 })
	// The outage is logged once going down and once coming back (with the
	// number of failed attempts), not once per poll or reconnect.
	log := logs.String()
	if n, m := strings.Count(log, "device failed"), strings.Count(log, "device recovered"); n != 1 || m != 1 ||
		!regexp.MustCompile(`device recovered.* failures=\d+`).MatchString(log) {
		t.Errorf("%d failure and %d recovery lines in the log, want 1 each with the count:\n%s", n, m, log)
	}
}

// mbpollWrite writes one holding register with mbpoll.
func mbpollWrite(t *testing.T, port, addr int, v uint16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mbpoll", "-m", "tcp", "-p", strconv.Itoa(port), "-a", "1", "-t", "4",
		"-r", strconv.Itoa(addr), "-0", "-1", "127.0.0.1", strconv.Itoa(int(v))).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll write hr:%d: %v\n%s", addr, err, out)
	}
}

// faultPLC starts a modbustest server and a daemon polling points of it
// every 100 ms with a 300 ms request timeout.
func faultPLC(t *testing.T, pvs string) (*modbustest.Server, *client.Client) {
	t.Helper()
	s := modbustest.NewServer(t, modbustest.Options{})
	srv := startDaemon(t, fmt.Sprintf(`
devices:
  - name: plc
    driver: modbus
    timeout: 1s
    backoff: 100ms
    max_backoff: 400ms
    config: {address: %q, timeout: 300ms, max_gap: 10}
pvs:
%s`, s.Addr(), pvs))
	return s, newClient(t, srv)
}

// fc3Sizes records the register counts of the FC3 replies the server
// sends.
type fc3Sizes struct {
	mu    sync.Mutex
	sizes map[int]int
	exc   int
}

func (f *fc3Sizes) hook(_ int, _ byte, reply []byte) [][]byte {
	// reply is an MBAP frame: a 7-byte header, then the PDU (function
	// code, byte count, data; or an exception).
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(reply) >= 9 {
		switch pdu := reply[7:]; pdu[0] {
		case 3:
			f.sizes[int(pdu[1])/2]++
		case 0x83:
			f.exc++
		}
	}
	return [][]byte{reply}
}

func (f *fc3Sizes) snapshot() (map[int]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.sizes), f.exc
}

// TestModbusCoalescingAndHoles checks the request plan on the wire: PVs
// at hr:0, hr:3, hr:5 and hr:200 are read in two requests (hr:0..5 and
// hr:200). An exception at hr:3 then marks only its own PV INVALID/READ;
// the others keep updating, and the learned hole keeps later cycles from
// asking for hr:3 in a block again.
func TestModbusCoalescingAndHoles(t *testing.T) {
	s, c := faultPLC(t, `
  - {name: C:A, scan: 100ms, binding: {device: plc, address: "hr:0"}}
  - {name: C:B, scan: 100ms, binding: {device: plc, address: "hr:3"}}
  - {name: C:C, scan: 100ms, binding: {device: plc, address: "hr:5"}}
  - {name: C:D, scan: 100ms, binding: {device: plc, address: "hr:200"}}
`)
	rec := &fc3Sizes{sizes: map[int]int{}}
	s.SetReplyHook(rec.hook)
	a, b, cc, d := watch(t, c, "C:A"), watch(t, c, "C:B"), watch(t, c, "C:C"), watch(t, c, "C:D")
	s.Set(1, modbustest.HoldingRegisters, 0, 10)
	s.Set(1, modbustest.HoldingRegisters, 3, 13)
	s.Set(1, modbustest.HoldingRegisters, 5, 15)
	s.Set(1, modbustest.HoldingRegisters, 200, 20)
	a.waitFor(t, "10", 10*time.Second, equals(10))
	b.waitFor(t, "13", 10*time.Second, equals(13))
	cc.waitFor(t, "15", 10*time.Second, equals(15))
	d.waitFor(t, "20", 10*time.Second, equals(20))
	sizes, _ := rec.snapshot()
	if len(sizes) != 2 || sizes[6] == 0 || sizes[1] == 0 || max(sizes[6], sizes[1])-min(sizes[6], sizes[1]) > 1 {
		t.Errorf("FC3 reply sizes %v, want only blocks of 6 (hr:0..5) and 1 (hr:200), one each per cycle", sizes)
	}

	s.SetException(1, modbustest.HoldingRegisters, 3, 2)
	b.waitFor(t, "INVALID/READ", 10*time.Second, isAlarm(dbr.StatusRead))
	_, exc0 := rec.snapshot()
	s.Set(1, modbustest.HoldingRegisters, 0, 11)
	s.Set(1, modbustest.HoldingRegisters, 5, 16)
	a.waitFor(t, "11", 10*time.Second, equals(11))
	cc.waitFor(t, "16", 10*time.Second, equals(16))
	s.Set(1, modbustest.HoldingRegisters, 0, 12)
	a.waitFor(t, "12", 10*time.Second, equals(12))
	s.Set(1, modbustest.HoldingRegisters, 0, 13)
	a.waitFor(t, "13", 10*time.Second, equals(13))
	sizes, exc := rec.snapshot()
	if sizes[6] == 0 || exc-exc0 > 3 {
		t.Errorf("after the hole: sizes %v, %d more exceptions over three cycles; want the hole learned", sizes, exc-exc0)
	}
	if u := lastAlarm(b); u.Severity != dbr.SeverityInvalid {
		t.Errorf("C:B alarm %+v while hr:3 still fails", u)
	}
}

// lastAlarm drains m and returns the alarm of its newest update (zero if
// none came since).
func lastAlarm(m *monitor) dbr.Alarm {
	a := dbr.Alarm{Severity: dbr.SeverityInvalid} // unchanged since the last wait
	for {
		select {
		case u := <-m.updates:
			a = u.Meta.Alarm
		default:
			return a
		}
	}
}

// TestModbusBadReplies feeds the daemon garbage, short replies, late
// replies and silence: the PVs go INVALID with the fitting status, and
// recover by themselves once the PLC answers properly, on the same
// connection where the framing allows it.
func TestModbusBadReplies(t *testing.T) {
	s, c := faultPLC(t, `
  - {name: F:A, scan: 100ms, binding: {device: plc, address: "hr:1"}}
`)
	a := watch(t, c, "F:A")
	for i, tc := range []struct {
		name  string
		fault modbustest.Fault
		bad   func(float64, dbr.Alarm) bool
	}{
		{"garbage", modbustest.Fault{Garbage: []byte("\x00\x01garbage\xff")}, func(_ float64, a dbr.Alarm) bool { return a.Severity == dbr.SeverityInvalid }},
		{"short", modbustest.Fault{Short: 1}, func(_ float64, a dbr.Alarm) bool { return a.Severity == dbr.SeverityInvalid }},
		{"no answer", modbustest.Fault{NoAnswer: true}, isAlarm(dbr.StatusTimeout)},
		{"late answer", modbustest.Fault{Delay: 600 * time.Millisecond}, isAlarm(dbr.StatusTimeout)},
	} {
		good := float64(100 + i)
		s.Set(1, modbustest.HoldingRegisters, 1, uint16(good))
		a.waitFor(t, tc.name+": good value first", 10*time.Second, equals(good))
		s.SetFault(1, tc.fault)
		a.waitFor(t, tc.name+": INVALID", 10*time.Second, tc.bad)
		s.SetFault(1, modbustest.Fault{})
		s.Set(1, modbustest.HoldingRegisters, 1, uint16(good+50))
		a.waitFor(t, tc.name+": recovery", 15*time.Second, equals(good+50))
	}
}

// TestModbusSlowDeviceIsolation checks that a device that stops answering
// does not stall another device: the healthy PLC's changes keep reaching
// the CA client within a few poll periods while the other times out.
func TestModbusSlowDeviceIsolation(t *testing.T) {
	slow := modbustest.NewServer(t, modbustest.Options{})
	fast := modbustest.NewServer(t, modbustest.Options{})
	srv := startDaemon(t, fmt.Sprintf(`
devices:
  - {name: slow, driver: modbus, timeout: 5s, config: {address: %q, timeout: 4s}}
  - {name: fast, driver: modbus, config: {address: %q, timeout: 500ms}}
pvs:
  - {name: S:A, scan: 100ms, binding: {device: slow, address: "hr:1"}}
  - {name: Q:A, scan: 100ms, binding: {device: fast, address: "hr:1"}}
`, slow.Addr(), fast.Addr()))
	c := newClient(t, srv)
	sa, qa := watch(t, c, "S:A"), watch(t, c, "Q:A")
	slow.Set(1, modbustest.HoldingRegisters, 1, 1)
	sa.waitFor(t, "1", 10*time.Second, equals(1))
	slow.SetFault(1, modbustest.Fault{NoAnswer: true})
	for i := range 5 {
		v := uint16(10 + i)
		fast.Set(1, modbustest.HoldingRegisters, 1, v)
		// Well under the slow device's 4 s timeout: the fast one is not
		// queued behind it.
		qa.waitFor(t, fmt.Sprint(v), 2*time.Second, equals(float64(v)))
	}
	sa.waitFor(t, "INVALID/TIMEOUT", 15*time.Second, isAlarm(dbr.StatusTimeout))
}

// TestModbusArray serves ten registers as a waveform PV: the client
// reads the scaled values and writes the array back in one FC16.
func TestModbusArray(t *testing.T) {
	s, c := faultPLC(t, `
  - name: W:PROFILE
    direction: output_readback
    scan: 100ms
    binding: {device: plc, address: "hr:400", type: int16, len: 10, scale: 0.1}
`)
	for i := range 10 {
		s.Set(1, modbustest.HoldingRegisters, 400+i, uint16(10*i+5))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, "W:PROFILE")
	if err != nil {
		t.Fatal(err)
	}
	if typ, n := ch.Native(); typ != dbr.Double || n != 10 {
		t.Fatalf("W:PROFILE is %v[%d], want DOUBLE[10]", typ, n)
	}
	watch(t, c, "W:PROFILE").waitFor(t, "the profile", 10*time.Second, equals(0.5)) // the first element
	v, _, err := ch.Get(ctx, dbr.Double, 10)
	if err != nil || fmt.Sprint(v) != "[0.5 1.5 2.5 3.5 4.5 5.5 6.5 7.5 8.5 9.5]" {
		t.Fatalf("W:PROFILE = %v, %v", v, err)
	}
	fc16 := s.Requests(16)
	if err := ch.PutWait(ctx, dbr.Doubles{-1, 0.5, 2, 3, 4, 5, 6, 7, 8, 12.3}); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Get(1, modbustest.HoldingRegisters, 400), uint16(0xFFF6); got != want {
		t.Errorf("hr:400 = %#04x, want %#04x (-10)", got, want)
	}
	if got := s.Get(1, modbustest.HoldingRegisters, 409); got != 123 {
		t.Errorf("hr:409 = %d, want 123", got)
	}
	if n := s.Requests(16) - fc16; n != 1 {
		t.Errorf("%d FC16 requests for one array put, want 1", n)
	}
}
