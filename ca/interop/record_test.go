package interop_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/record"
)

// startDirServer serves dir on 127.0.0.1 with free ports, as catest.Start
// does for a map, and returns the libca environment that points at it.
func startDirServer(t *testing.T, dir ca.Directory) map[string]string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rep := c.LocalAddr().(*net.UDPAddr).Port
	_ = c.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	cfg := ca.Config{Interfaces: []netip.Addr{lo}, Port: -1, BeaconPort: rep,
		BeaconAddrs: []netip.AddrPort{netip.AddrPortFrom(lo, uint16(rep))}}
	s := &ca.Server{Directory: dir, Config: cfg,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- s.Serve(context.Background()) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		wg.Wait()
		if err := <-errc; !errors.Is(err, ca.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	udp := s.UDPAddr().Port()
	return map[string]string{
		"EPICS_CA_AUTO_ADDR_LIST": "NO",
		"EPICS_CA_ADDR_LIST":      fmt.Sprintf("127.0.0.1:%d", udp),
		"EPICS_CA_SERVER_PORT":    fmt.Sprint(udp),
		"EPICS_CA_REPEATER_PORT":  fmt.Sprint(rep),
	}
}

type recordFieldInfo struct {
	FType int       `json:"ftype"`
	Count int       `json:"count"`
	Read  bool      `json:"read"`
	Write bool      `json:"write"`
	Plain dbrResult `json:"plain"`
	Ctrl  dbrResult `json:"ctrl"`
}

type recordResult struct {
	Fields  map[string]recordFieldInfo `json:"fields"`
	Missing map[string]bool            `json:"missing"`
	Class   map[string]struct {
		Status int    `json:"status"`
		Value  string `json:"value"`
	} `json:"class"`
	EGU struct {
		Put         map[string]int `json:"put"`
		PropEvents  []dbrResult    `json:"prop_events"`
		EGUEvents   []dbrResult    `json:"egu_events"`
		Ctrl        dbrResult      `json:"ctrl"`
		RequestStat *int           `json:"request_status"`
	} `json:"egu"`
	Alarms struct {
		Steps []struct {
			Put  map[string]int `json:"put"`
			Time dbrResult      `json:"time"`
			Sevr dbrResult      `json:"sevr"`
			Stat dbrResult      `json:"stat"`
		} `json:"steps"`
		SevrEvents []dbrResult `json:"sevr_events"`
	} `json:"alarms"`
	Clamp map[string]float64        `json:"clamp"`
	Puts  map[string]map[string]int `json:"puts"`
}

// TestRecordFields reads and writes the fields of an ai and an ao through
// libca: field types, menus and access as an IOC reports them, "$" long
// strings, DBR_CLASS_NAME, a put to EGU changing DBR_CTRL and firing a
// PROPERTY monitor, alarms from HIHI..LOLO with hysteresis followed by
// SEVR and STAT, DRVH/DRVL clamping, refused puts, and unknown fields that
// do not connect.
func TestRecordFields(t *testing.T) {
	requirePeer(t)
	temp := ca.NewDouble(ca.Options{Units: "degC", Precision: 2, Limits: dbr.Limits{DisplayHigh: 100,
		AlarmHigh: math.NaN(), WarningHigh: math.NaN(), WarningLow: math.NaN(), AlarmLow: math.NaN()}}, 0)
	ai, err := record.New("TEMP", temp, record.Config{Type: "ai", DESC: "thermometer",
		Alarm: &record.LimitAlarm{HIHI: 10, HIGH: 5, LOW: -5, LOLO: -10, HHSV: dbr.SeverityMajor,
			HSV: dbr.SeverityMinor, LSV: dbr.SeverityMinor, LLSV: dbr.SeverityMajor, HYST: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ao, err := record.New("OUT", ca.NewDouble(ca.Options{}, 0), record.Config{Type: "ao"})
	if err != nil {
		t.Fatal(err)
	}
	dir := new(record.Directory)
	for _, r := range []*record.Record{ai, ao} {
		if err := dir.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	env := startDirServer(t, dir)

	values := []float64{3, 5, 4.5, 3.9, 10.5, 9.2, 8.9, -5, -10, -9.5, 0}
	type alarm struct{ stat, sevr int }
	wantAlarms := []alarm{{0, 0}, {4, 1}, {4, 1}, {0, 0}, {3, 2}, {3, 2}, {4, 1}, {6, 1}, {5, 2}, {5, 2}, {0, 0}}
	// SEVR monitor: initial 0, then 1, 0, 2, 1, 2, 0.
	wantSevrEvents := []int{0, 1, 0, 2, 1, 2, 0}
	args := map[string]any{
		"fields": []string{"TEMP.DESC", "TEMP.DESC$", "TEMP.NAME$", "TEMP.HHSV", "TEMP.PREC", "TEMP.SEVR",
			"TEMP.SCAN", "TEMP.HIHI", "TEMP.RTYP", "TEMP.EGU"},
		"missing":     []string{"TEMP.NOPE", "TEMP.PREC$", "NOPE.DESC", "TEMP.ZNAM"},
		"class":       []string{"TEMP", "TEMP.DESC", "OUT"},
		"values":      values,
		"sevr_events": len(wantSevrEvents),
	}
	var res recordResult
	runPy(t, 60*time.Second, "record.py", env, args, &res)

	sevrNames := dbr.SeverityNames()
	fieldTests := []struct {
		name         string
		ftype, count int
		write        bool
		value        []any
		strs         []string
	}{
		{"TEMP.DESC", dbrString, 1, true, []any{"thermometer"}, nil},
		{"TEMP.DESC$", dbrChar, 41, true, charsOf("thermometer"), nil},
		{"TEMP.NAME$", dbrChar, 61, false, charsOf("TEMP"), nil},
		{"TEMP.HHSV", dbrEnum, 1, true, []any{2.0}, sevrNames},
		{"TEMP.PREC", dbrShort, 1, true, []any{2.0}, nil},
		{"TEMP.SEVR", dbrEnum, 1, false, []any{0.0}, sevrNames},
		{"TEMP.SCAN", dbrEnum, 1, true, []any{0.0}, record.MenuScan.Choices()},
		{"TEMP.HIHI", dbrDouble, 1, true, []any{10.0}, nil},
		{"TEMP.RTYP", dbrString, 1, true, []any{"ai"}, nil},
		{"TEMP.EGU", dbrString, 1, true, []any{"degC"}, nil},
	}
	for _, ft := range fieldTests {
		got, ok := res.Fields[ft.name]
		if !ok {
			t.Errorf("%s: no result", ft.name)
			continue
		}
		if got.FType != ft.ftype || got.Count != ft.count || !got.Read || got.Write != ft.write {
			t.Errorf("%s: type %d count %d read %v write %v, want %d %d true %v", ft.name, got.FType, got.Count,
				got.Read, got.Write, ft.ftype, ft.count, ft.write)
		}
		if got.Plain.Status != ecaNormal || fmt.Sprint(got.Plain.Value) != fmt.Sprint(ft.value) {
			t.Errorf("%s: read %v (status %d), want %v", ft.name, got.Plain.Value, got.Plain.Status, ft.value)
		}
		if ft.strs != nil && !slices.Equal(got.Ctrl.Strs, ft.strs) {
			t.Errorf("%s: enum strings %q, want %q", ft.name, got.Ctrl.Strs, ft.strs)
		}
	}
	for name, ok := range res.Missing {
		if ok {
			t.Errorf("%s connected", name)
		}
	}
	for name, want := range map[string]string{"TEMP": "ai", "TEMP.DESC": "ai", "OUT": "ao"} {
		if got := res.Class[name]; got.Status != ecaNormal || got.Value != want {
			t.Errorf("DBR_CLASS_NAME of %s: %+v, want %q", name, got, want)
		}
	}

	if res.EGU.Put["status"] != ecaNormal {
		t.Errorf("EGU put: %v", res.EGU.Put)
	}
	if n := len(res.EGU.PropEvents); n != 2 || res.EGU.PropEvents[1].Units == nil || *res.EGU.PropEvents[1].Units != "mm" {
		t.Errorf("PROPERTY monitor events: %+v", res.EGU.PropEvents)
	}
	if n := len(res.EGU.EGUEvents); n != 2 || fmt.Sprint(res.EGU.EGUEvents[1].Value) != "[mm]" {
		t.Errorf("EGU monitor events: %+v", res.EGU.EGUEvents)
	}
	if u := res.EGU.Ctrl.Units; u == nil || *u != "mm" {
		t.Errorf("CTRL units after EGU put: %v", u)
	}

	if len(res.Alarms.Steps) != len(values) {
		t.Fatalf("%d alarm steps", len(res.Alarms.Steps))
	}
	for i, st := range res.Alarms.Steps {
		w := wantAlarms[i]
		if st.Time.Status != w.stat || st.Time.Severity != w.sevr {
			t.Errorf("value %v: alarm %d/%d, want %d/%d", values[i], st.Time.Status, st.Time.Severity, w.stat, w.sevr)
		}
		if fmt.Sprint(st.Sevr.Value) != fmt.Sprint([]any{float64(w.sevr)}) ||
			fmt.Sprint(st.Stat.Value) != fmt.Sprint([]any{float64(w.stat)}) {
			t.Errorf("value %v: SEVR %v STAT %v, want %d %d", values[i], st.Sevr.Value, st.Stat.Value, w.sevr, w.stat)
		}
	}
	var sevrEvents []int
	for _, e := range res.Alarms.SevrEvents {
		if len(e.Value) == 1 {
			sevrEvents = append(sevrEvents, int(e.Value[0].(float64)))
		}
	}
	if !slices.Equal(sevrEvents, wantSevrEvents) {
		t.Errorf("SEVR monitor %v, want %v", sevrEvents, wantSevrEvents)
	}

	for in, want := range map[string]float64{"20.0": 10, "-20.0": -10, "5.0": 5} {
		if got := res.Clamp[in]; got != want {
			t.Errorf("OUT put %s reads %v, want %v", in, got, want)
		}
	}

	for name, want := range map[string]eca.Code{"TEMP.RTYP": eca.PutFail, "TEMP.SEVR": eca.NoWtAccess,
		"TEMP.HHSV": eca.PutFail} {
		got := res.Puts[name]
		st, ok := got["status"]
		if !ok {
			st = got["request_status"]
		}
		if eca.Code(st) != want {
			t.Errorf("put %s: %v, want status %d", name, got, want)
		}
	}
}

// charsOf returns text and its NUL as the numbers a DBR_CHAR read gives.
func charsOf(text string) []any {
	out := make([]any, 0, len(text)+1)
	for _, c := range []byte(text) {
		out = append(out, float64(c))
	}
	return append(out, 0.0)
}
