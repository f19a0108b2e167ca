package mapping

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/sim"
)

func TestSimDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dev, err := sim.NewDevice("oven", sim.Config{Signals: []sim.Signal{
			{Name: "sp", Kind: sim.Setpoint, Value: 20, Readback: "rb", SlewRate: 1000},
		}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dev.Close()
		cfg := &Config{
			Devices: []DeviceConfig{{Name: "oven", Driver: "sim", HealthPrefix: "OVEN:"}},
			PVs: []PVConfig{
				{Name: "OVEN:SP", Direction: DirOutput, Binding: Binding{Device: "oven", Address: "sp"}},
				{Name: "OVEN:RB", Scan: "100ms", Binding: Binding{Device: "oven", Address: "rb"}},
			},
		}
		g := ioc.NewGroup("", nil)
		br, err := New(cfg, map[string]drivers.Device{"oven": dev}, g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		pvs, _ := g.PVs()
		f := &fixture{t: t, pvs: pvs}
		ctx, cancel := contextWithCancel(t)
		done := make(chan struct{})
		go func() { defer close(done); _ = br.Run(ctx) }()
		defer func() { cancel(); <-done }()

		synctest.Wait()
		if got := f.float("OVEN:SP"); got != 20 {
			t.Errorf("OVEN:SP = %v, want 20 from the device", got)
		}
		if err := pvs["OVEN:SP"].Put(t.Context(), dbr.Doubles{30}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.float("OVEN:RB"); got != 30 {
			t.Errorf("OVEN:RB = %v, want 30", got)
		}
		dev.Fail(sim.FailDisconnect, 0)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if a := f.alarm("OVEN:RB"); a.Status != dbr.StatusComm || a.Severity != dbr.SeverityInvalid {
			t.Errorf("OVEN:RB alarm = %+v, want INVALID/COMM", a)
		}
		if got := f.float("OVEN:CONNECTED"); got != 0 {
			t.Errorf("OVEN:CONNECTED = %v", got)
		}
		if st := br.Status(); len(st) != 1 || st[0].State != StateDisconnected || st[0].Failures == 0 {
			t.Errorf("Status = %+v, want one device Disconnected with failures", st)
		}
		if got := f.float("OVEN:STATE"); got != float64(StateDisconnected) {
			t.Errorf("OVEN:STATE = %v", got)
		}
		dev.Clear()
		time.Sleep(DefaultMaxBackoff)
		synctest.Wait()
		if a := f.alarm("OVEN:RB"); a != (dbr.Alarm{}) {
			t.Errorf("OVEN:RB alarm = %+v after recovery", a)
		}
		if got := f.float("OVEN:CONNECTED"); got != 1 {
			t.Errorf("OVEN:CONNECTED = %v after recovery", got)
		}
		if st := br.Status(); st[0].State != StateOK || st[0].Polls == 0 || st[0].Stats.Requests == 0 {
			t.Errorf("Status = %+v after recovery", st)
		}
	})
}
