package drivertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/drivertest"
)

// fakeFixture builds a Fake with the fixture the suite needs.
func fakeFixture(t *testing.T) (drivers.Device, drivertest.Fixture) {
	f := drivertest.NewFake(nil)
	f.Set("temp", drivers.Floats{21.5})
	f.Set("arr", drivers.Ints{1, 2, 3})
	f.Set("bad", drivers.Floats{0})
	f.SetPointError("bad", &drivers.DeviceError{Code: 2, Text: "illegal data address"})
	return f, drivertest.Fixture{
		Read: []drivers.PointSpec{{Address: "temp"}, {Address: "arr", Type: "int32", Len: 3}, {Address: "name", Type: "string", Len: 8}},
		Bad:  []drivers.PointSpec{{Address: "bad"}},
		Invalid: []drivers.PointSpec{
			{Address: ""}, {Address: "x", Type: "complex"}, {Address: "x", Bit: new(int)},
			{Address: "x", Options: map[string]string{"qos": "1"}},
		},
		Writes: []drivertest.WriteCase{
			{Point: drivers.PointSpec{Address: "sp", Type: "uint16"}, Value: drivers.Uints{42}},
			{Point: drivers.PointSpec{Address: "out", Type: "bool", Options: map[string]string{"access": "w"}}, Value: drivers.Bools{true}},
		},
		ReadOnly:   []drivers.PointSpec{{Address: "temp", Options: map[string]string{"access": "r"}}},
		Subscribe:  []drivers.PointSpec{{Address: "temp"}, {Address: "arr", Type: "int32", Len: 3}},
		Push:       func() { f.Push("temp", drivers.Floats{22}); f.Push("arr", drivers.Ints{4, 5, 6}) },
		Stall:      func() { f.Hang(true) },
		Disconnect: func() { f.SetError(fmt.Errorf("fake: link down: %w", drivers.ErrDisconnected)) },
		Reconnect:  func() { f.SetError(nil) },
		Timeout:    2 * time.Second,
	}
}

func TestFakeConformance(t *testing.T) {
	drivertest.Run(t, fakeFixture)
}

func TestFakeWritesAndErrors(t *testing.T) {
	ctx := t.Context()
	f := drivertest.NewFake(func() time.Time { return time.Unix(100, 0) })
	sp, err := f.ParsePoint(drivers.PointSpec{Address: "sp", Type: "int16"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(ctx, sp, drivers.Ints{7}); err != nil {
		t.Fatal(err)
	}
	if w := f.Writes(); len(w) != 1 || w[0].Address != "sp" || !drivers.Equal(w[0].Value, drivers.Ints{7}) {
		t.Errorf("Writes() = %v", w)
	}
	ss, err := f.Read(ctx, []drivers.Point{sp})
	if err != nil || !ss[0].Time.Equal(time.Unix(100, 0)) {
		t.Errorf("Read = %v, %v", ss, err)
	}
	f.SetError(fmt.Errorf("x: %w", drivers.ErrTimeout))
	_, err = f.Read(ctx, []drivers.Point{sp})
	if !errors.Is(err, drivers.ErrTimeout) || f.Stats().Errors != 1 {
		t.Errorf("Read of a failing fake = %v, stats %+v", err, f.Stats())
	}
	hang, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	f.SetError(nil)
	f.Hang(true)
	if _, err := f.Read(hang, []drivers.Point{sp}); !errors.Is(err, drivers.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read of a hung fake = %v", err)
	}
	f.Hang(false)
	if n := f.Reads(); n != 1 {
		t.Errorf("Reads() = %d, want 1", n)
	}
}
