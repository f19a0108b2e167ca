package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

func ptr[T any](v T) *T { return &v }

// fixture is a bridge on one Fake device "dev", running in a synctest
// bubble.
type fixture struct {
	t    *testing.T
	fake *drivertest.Fake
	pvs  map[string]ca.PV
}

func testConfig() *Config {
	return &Config{
		Macros:  "P=T:",
		Devices: []DeviceConfig{{Name: "dev", Driver: "fake", Backoff: drivers.Duration(time.Second), MaxBackoff: drivers.Duration(4 * time.Second)}},
		PVs: []PVConfig{
			{Name: "$(P)TEMP", EGU: "degC", Prec: 2, Scan: "1s", Binding: Binding{Device: "dev", Address: "t1", Scale: ptr(2.0), Offset: 1}},
			{Name: "$(P)COUNT", Type: "long", Scan: "1s", Binding: Binding{Device: "dev", Address: "c1", Type: "int32"}},
			{Name: "$(P)SP", Direction: DirOutput, Binding: Binding{Device: "dev", Address: "sp", Scale: ptr(10.0)}},
			{Name: "$(P)SP:RBV", Direction: DirOutputReadback, Scan: "2s", Binding: Binding{Device: "dev", Address: "sp2", Type: "int16"}},
			{Name: "$(P)PUSH", Scan: ScanIOIntr, Binding: Binding{Device: "dev", Address: "ev"}},
		},
	}
}

// start builds the bridge in g and runs it until the test ends.
func start(t *testing.T, cfg *Config, fake *drivertest.Fake) *fixture {
	t.Helper()
	g := ioc.NewGroup("", nil)
	br, err := New(cfg, map[string]drivers.Device{"dev": fake}, g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pvs, err := g.PVs()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fixture{t: t, fake: fake, pvs: pvs}
}

func (f *fixture) snap(name string) *ca.Snapshot {
	f.t.Helper()
	pv, ok := f.pvs[name]
	if !ok {
		f.t.Fatalf("no PV %q", name)
	}
	return pv.Snapshot()
}

func (f *fixture) float(name string) float64 {
	f.t.Helper()
	v, err := dbr.Convert(f.snap(name).Value, dbr.Double, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return v.(dbr.Doubles)[0]
}

func (f *fixture) alarm(name string) dbr.Alarm { return f.snap(name).Meta.Alarm }

func newFake() *drivertest.Fake {
	fk := drivertest.NewFake(nil)
	fk.Set("t1", drivers.Floats{10})
	fk.Set("c1", drivers.Ints{7})
	fk.Set("sp", drivers.Floats{1.5})
	fk.Set("sp2", drivers.Ints{3})
	fk.Set("ev", drivers.Floats{0})
	return fk
}

func TestReadScaledAndInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		synctest.Wait()
		// Outputs are initialised right after Open.
		if got := f.float("T:SP"); got != 15 {
			t.Errorf("T:SP = %v, want 15 (1.5*10)", got)
		}
		if got := f.float("T:SP:RBV"); got != 3 {
			t.Errorf("T:SP:RBV = %v, want 3", got)
		}
		// Scanned PVs are read at start too, not one period later.
		if got := f.float("T:TEMP"); got != 21 {
			t.Errorf("T:TEMP = %v at start, want 21 (10*2+1)", got)
		}
		time.Sleep(time.Second) // advance the bubble's clock by one period
		synctest.Wait()
		if got := f.float("T:TEMP"); got != 21 {
			t.Errorf("T:TEMP = %v, want 21 (10*2+1)", got)
		}
		if got := f.float("T:COUNT"); got != 7 {
			t.Errorf("T:COUNT = %v, want 7", got)
		}
		if a := f.alarm("T:TEMP"); a != (dbr.Alarm{}) {
			t.Errorf("T:TEMP alarm = %v", a)
		}
		f.fake.Set("t1", drivers.Floats{20})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.float("T:TEMP"); got != 41 {
			t.Errorf("T:TEMP = %v, want 41", got)
		}
		// One batched Read per period and group: outputs, TEMP+COUNT and
		// SP:RBV at start, TEMP+COUNT at 1s and 2s, SP:RBV at 2s.
		if n := f.fake.Reads(); n != 6 {
			t.Errorf("Reads = %d, want 6", n)
		}
		if _, ok := f.pvs["T:TEMP"].Snapshot().Value.(dbr.Doubles); !ok {
			t.Errorf("T:TEMP native type %T", f.pvs["T:TEMP"].Snapshot().Value)
		}
		if err := f.pvs["T:TEMP"].Put(t.Context(), dbr.Doubles{1}); err == nil {
			t.Error("put to an input succeeded")
		}
	})
}

func TestIOIntr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		synctest.Wait()
		f.fake.Push("ev", drivers.Floats{4.5})
		synctest.Wait()
		if got := f.float("T:PUSH"); got != 4.5 {
			t.Errorf("T:PUSH = %v, want 4.5", got)
		}
	})
}

func TestPutReachesDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		synctest.Wait()
		if err := f.pvs["T:SP"].Put(t.Context(), dbr.Doubles{42}); err != nil {
			t.Fatal(err)
		}
		// The put returned, so the device has confirmed the write.
		w := f.fake.Writes()
		if len(w) != 1 || w[0].Address != "sp" || !drivers.Equal(w[0].Value, drivers.Floats{4.2}) {
			t.Fatalf("writes = %v, want sp=4.2", w)
		}
		if got := f.float("T:SP"); got != 42 {
			t.Errorf("T:SP = %v, want 42", got)
		}
		if err := f.pvs["T:SP:RBV"].Put(t.Context(), dbr.Doubles{9}); err != nil {
			t.Fatal(err)
		}
		if got := f.fake.Get("sp2"); !drivers.Equal(got, drivers.Ints{9}) {
			t.Errorf("sp2 = %v, want Ints{9}", got)
		}
	})
}

func TestPutFailsNoRetry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		tries uint64
	}{
		{"exception", &drivers.DeviceError{Code: 2, Text: "illegal data address"}, 1},
		{"timeout", fmt.Errorf("x: %w", drivers.ErrTimeout), 1},
		{"not sent", fmt.Errorf("x: %w: %w", drivers.ErrDisconnected, drivers.ErrNotSent), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := start(t, testConfig(), newFake())
				synctest.Wait()
				before := f.fake.Stats().Requests
				f.fake.SetPointError("sp", tc.err)
				err := f.pvs["T:SP"].Put(t.Context(), dbr.Doubles{42})
				if !errors.Is(err, tc.err) {
					t.Fatalf("put error = %v, want %v", err, tc.err)
				}
				if n := f.fake.Stats().Requests - before; n != tc.tries {
					t.Errorf("write attempts = %d, want %d", n, tc.tries)
				}
				if len(f.fake.Writes()) != 0 {
					t.Errorf("writes = %v", f.fake.Writes())
				}
				if a := f.alarm("T:SP"); a != drivers.AlarmFor(drivers.OpWrite, tc.err) {
					t.Errorf("alarm = %+v, want %+v", a, drivers.AlarmFor(drivers.OpWrite, tc.err))
				}
				if got := f.float("T:SP"); got != 15 {
					t.Errorf("T:SP = %v, want the old 15", got)
				}
			})
		})
	}
}

func TestDeviceFailureAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		time.Sleep(time.Second)
		synctest.Wait()
		before := f.snap("T:TEMP")
		f.fake.SetError(fmt.Errorf("fake: %w", drivers.ErrDisconnected))
		time.Sleep(time.Second)
		synctest.Wait()
		for _, name := range []string{"T:TEMP", "T:COUNT", "T:SP", "T:SP:RBV", "T:PUSH"} {
			if a := f.alarm(name); a.Severity != dbr.SeverityInvalid || a.Status != dbr.StatusComm {
				t.Errorf("%s alarm = %+v, want INVALID/COMM", name, a)
			}
		}
		after := f.snap("T:TEMP")
		if fmt.Sprint(after.Value) != fmt.Sprint(before.Value) || after.Meta.Stamp != before.Meta.Stamp {
			t.Errorf("value/stamp changed on failure: %v %v -> %v %v", before.Value, before.Meta.Stamp, after.Value, after.Meta.Stamp)
		}
		if got := f.float("cabridge:dev:CONNECTED"); got != 0 {
			t.Errorf("CONNECTED = %v while failed", got)
		}
		if err := f.pvs["T:SP"].Put(t.Context(), dbr.Doubles{1}); err == nil {
			t.Error("put succeeded while disconnected")
		}
		// Back-off: reopen attempts at 1s, 2s, 4s, 4s... all fail.
		opens := f.fake.Opens()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if f.fake.Opens() != opens {
			t.Errorf("opened while failing")
		}
		f.fake.SetError(nil)
		f.fake.Set("t1", drivers.Floats{0})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if f.fake.Opens() != opens+1 {
			t.Errorf("opens = %d, want %d", f.fake.Opens(), opens+1)
		}
		for _, name := range []string{"T:TEMP", "T:COUNT", "T:SP", "T:SP:RBV"} {
			if a := f.alarm(name); a != (dbr.Alarm{}) {
				t.Errorf("%s alarm = %+v after recovery", name, a)
			}
		}
		if got := f.float("T:TEMP"); got != 1 {
			t.Errorf("T:TEMP = %v after recovery, want 1", got)
		}
		if got := f.float("cabridge:dev:CONNECTED"); got != 1 {
			t.Errorf("CONNECTED = %v after recovery", got)
		}
	})
}

func TestHealthPVs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.float("cabridge:dev:CONNECTED"); got != 1 {
			t.Errorf("CONNECTED = %v", got)
		}
		if got := f.float("cabridge:dev:REQUESTS"); got < 2 {
			t.Errorf("REQUESTS = %v", got)
		}
		f.fake.SetError(&drivers.DeviceError{Code: 4, Text: "server failure"})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.float("cabridge:dev:ERRORS"); got < 1 {
			t.Errorf("ERRORS = %v", got)
		}
		if got := f.float("cabridge:dev:LAST_EXCEPTION"); got != 4 {
			t.Errorf("LAST_EXCEPTION = %v", got)
		}
		s := string(f.snap("cabridge:dev:LAST_ERROR").Value.(dbr.Chars))
		if !strings.Contains(s, "server failure") {
			t.Errorf("LAST_ERROR = %v", s)
		}
		if a := f.alarm("T:TEMP"); a.Severity != dbr.SeverityInvalid || a.Status != dbr.StatusRead {
			t.Errorf("T:TEMP alarm = %+v, want INVALID/READ", a)
		}
	})
}

func TestValidate(t *testing.T) {
	fk := drivertest.NewFake(nil)
	cfg := &Config{
		Devices: []DeviceConfig{{Name: "dev", Driver: "fake"}},
		PVs: []PVConfig{
			{Name: "A", Binding: Binding{Device: "dev", Address: "a"}},
			{Name: "A", Binding: Binding{Device: "dev", Address: "b"}},
			{Name: "B", Binding: Binding{Device: "nope", Address: "b"}},
			{Name: "C", Binding: Binding{Device: "dev", Address: "bad addr"}},
			{Name: "D", Direction: DirOutput, Binding: Binding{Device: "dev", Address: "d", Options: map[string]string{"access": "r"}}},
			{Name: "E", Type: "string", Binding: Binding{Device: "dev", Address: "e"}},
			{Name: "F", Scan: "soon", Direction: "sideways", Binding: Binding{Device: "dev", Address: "f"}},
			{Name: "$(X)", Binding: Binding{Device: "dev", Address: "g"}},
		},
	}
	err := cfg.Validate(map[string]drivers.Device{"dev": fk})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`pvs[1] "A": name: duplicate PV name (also pvs[0]; PV names must be unique)`,
		`pvs[2] "B": binding.device: unknown device "nope"`,
		`pvs[3] "C": binding: `,
		`pvs[4] "D": direction: output: point float64[1] r cannot be written`,
		`pvs[5] "E": type: string: point float64[1] rw is not a string`,
		`pvs[6] "F": scan: "soon"`,
		`pvs[6] "F": direction: "sideways"`,
		`pvs[7] "$(X)": name:`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Error("not a FieldError")
	}
	if err := testConfig().Validate(map[string]drivers.Device{"dev": fk}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestReadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := start(t, testConfig(), newFake())
		time.Sleep(time.Second)
		synctest.Wait()
		f.fake.Hang(true)
		time.Sleep(time.Second + DefaultTimeout)
		synctest.Wait()
		if a := f.alarm("T:TEMP"); a.Severity != dbr.SeverityInvalid || a.Status != dbr.StatusTimeout {
			t.Errorf("T:TEMP alarm = %+v, want INVALID/TIMEOUT", a)
		}
		f.fake.Hang(false)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if a := f.alarm("T:TEMP"); a != (dbr.Alarm{}) {
			t.Errorf("T:TEMP alarm = %+v after the hang", a)
		}
		// The health PVs are published between scans, so the periods
		// skipped during the hang show once the device answers again.
		if got := f.float("cabridge:dev:OVERRUNS"); got < 1 {
			t.Errorf("OVERRUNS = %v after a hang longer than the period", got)
		}
	})
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
