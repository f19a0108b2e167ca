package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/record"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// featureConfig has one PV per feature on the fake device "dev".
func featureConfig() *Config {
	return &Config{
		Devices: []DeviceConfig{{Name: "dev", Driver: "fake"}},
		PVs: []PVConfig{
			{Name: "WF", Scan: "1s", Prec: 2, Binding: Binding{Device: "dev", Address: "wf", Len: 4, Scale: ptr(0.5)}},
			{Name: "WF:SP", Direction: DirOutput, Binding: Binding{Device: "dev", Address: "wfsp", Type: "int32", Len: 3}},
			{Name: "LVL", Scan: "1s", HIHI: ptr(90.0), HIGH: ptr(80.0), HHSV: "INVALID", HSV: "major", HYST: 1,
				Binding: Binding{Device: "dev", Address: "lvl"}},
			{Name: "SP", Direction: DirOutput, ReadAfterWrite: true, Binding: Binding{Device: "dev", Address: "sp"}},
			{Name: "PLAIN", Record: RecordNone, Scan: "1s", Binding: Binding{Device: "dev", Address: "lvl"}},
		},
	}
}

func newFeatureFake() *drivertest.Fake {
	fk := drivertest.NewFake(nil)
	fk.Set("wf", drivers.Floats{2, 4, 6, 8})
	fk.Set("wfsp", drivers.Ints{1, 2, 3})
	fk.Set("lvl", drivers.Floats{50})
	fk.Set("sp", drivers.Floats{1})
	return fk
}

// TestArrays serves an array point as a waveform PV, scaled element by
// element, and writes an array output.
func TestArrays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fk := newFeatureFake()
		f := start(t, featureConfig(), fk)
		synctest.Wait()
		if typ, n := f.pvs["WF"].Native(); typ != dbr.Double || n != 4 {
			t.Errorf("WF native %v[%d], want DOUBLE[4]", typ, n)
		}
		if v := f.snap("WF").Value; fmt.Sprint(v) != "[1 2 3 4]" {
			t.Errorf("WF = %v, want [1 2 3 4] (scaled by 0.5)", v)
		}
		if v := f.snap("WF:SP").Value; fmt.Sprint(v) != "[1 2 3]" {
			t.Errorf("WF:SP = %v, want [1 2 3] from the device", v)
		}
		if err := f.pvs["WF:SP"].Put(t.Context(), dbr.Longs{7, 8, 9}); err != nil {
			t.Fatal(err)
		}
		if w := fk.Writes(); len(w) != 1 || !drivers.Equal(w[0].Value, drivers.Ints{7, 8, 9}) {
			t.Errorf("writes = %v, want [7 8 9]", w)
		}
		if f.pvs["WF:SP"].Snapshot().Meta.Alarm != (dbr.Alarm{}) {
			t.Errorf("WF:SP alarm %+v after a good write", f.pvs["WF:SP"].Snapshot().Meta.Alarm)
		}
	})
}

// TestAlarmSeverities applies HHSV..LLSV and HYST from the config to the
// record, which computes the alarm of each value the device gives.
func TestAlarmSeverities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fk := newFeatureFake()
		g := ioc.NewGroup("", nil)
		br, err := New(featureConfig(), map[string]drivers.Device{"dev": fk}, g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		pvs, _ := g.PVs()
		if a := pvs["LVL"].Snapshot().Meta.Alarm; a != (dbr.Alarm{Status: dbr.StatusUDF, Severity: dbr.SeverityInvalid}) {
			t.Errorf("LVL before the first read: %+v, want INVALID/UDF", a)
		}
		dir, err := ioc.NewDirectory(g)
		if err != nil {
			t.Fatal(err)
		}
		// Severities are menu indices: NO_ALARM 0, MINOR 1, MAJOR 2, INVALID 3.
		for field, want := range map[string]float64{"HHSV": 3, "HSV": 2, "LSV": 0, "LLSV": 0, "HYST": 1} {
			pv, ok := dir.Lookup("LVL." + field)
			if !ok {
				t.Fatalf("no LVL.%s", field)
			}
			if got := dbr.FirstFloat(pv.Snapshot().Value); got != want {
				t.Errorf("LVL.%s = %v, want %v", field, got, want)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = br.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for _, step := range []struct {
			v    float64
			want dbr.Alarm
		}{
			{50, dbr.Alarm{}},
			{85, dbr.Alarm{Status: dbr.StatusHigh, Severity: dbr.SeverityMajor}},
			{95, dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityInvalid}},
			{89.5, dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityInvalid}}, // hysteresis
			{70, dbr.Alarm{}},
		} {
			fk.Set("lvl", drivers.Floats{step.v})
			time.Sleep(time.Second)
			synctest.Wait()
			if a := pvs["LVL"].Snapshot().Meta.Alarm; a != step.want {
				t.Errorf("LVL = %v: alarm %+v, want %+v", step.v, a, step.want)
			}
			if a := pvs["PLAIN"].Snapshot().Meta.Alarm; a != (dbr.Alarm{}) {
				t.Errorf("PLAIN (no record) = %v: alarm %+v", step.v, a)
			}
		}
		if _, ok := dir.Lookup("PLAIN.EGU"); ok {
			t.Error("record none serves fields")
		}
	})
}

// TestReadAfterWrite shows what the device holds after a write: here a
// device that clamps the setpoint.
func TestReadAfterWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fk := newFeatureFake()
		f := start(t, featureConfig(), fk)
		synctest.Wait()
		fk.SetWriteHook(func(addr string, v drivers.Value) drivers.Value {
			if addr == "sp" {
				return drivers.Floats{min(v.(drivers.Floats)[0], 10)}
			}
			return v
		})
		if err := f.pvs["SP"].Put(t.Context(), dbr.Doubles{25}); err != nil {
			t.Fatal(err)
		}
		if got := f.float("SP"); got != 10 {
			t.Errorf("SP = %v after put 25, want 10 as read back from the device", got)
		}
	})
}

// TestSeverityNeedsRecord rejects alarm severities on a plain PV.
func TestSeverityNeedsRecord(t *testing.T) {
	cfg := &Config{
		Devices: []DeviceConfig{{Name: "dev", Driver: "fake"}},
		PVs:     []PVConfig{{Name: "A", Record: RecordNone, HHSV: "MAJOR", Binding: Binding{Device: "dev", Address: "a"}}},
	}
	_, err := New(cfg, map[string]drivers.Device{"dev": drivertest.NewFake(nil)}, ioc.NewGroup("", nil), Options{})
	if err == nil || !strings.Contains(err.Error(), `pvs[0] "A": hhsv: needs a record`) {
		t.Errorf("New = %v", err)
	}
	if _, ok := record.LookupType("ai"); !ok {
		t.Error("record types missing")
	}
}
