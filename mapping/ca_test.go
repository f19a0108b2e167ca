package mapping

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

// TestCAClientPut puts through a Go CA client: the put callback completes
// after the device confirmed the write, and a failed write gives the
// client an error.
func TestCAClientPut(t *testing.T) {
	fk := newFake()
	f := start(t, testConfig(), fk)
	srv := catest.NewServer(t, f.pvs)
	c, err := client.New(client.Config{NameServers: []string{srv.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, "T:SP")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PutWait(ctx, dbr.Doubles{42}); err != nil {
		t.Fatal(err)
	}
	if w := fk.Writes(); len(w) != 1 || !drivers.Equal(w[0].Value, drivers.Floats{4.2}) {
		t.Fatalf("writes after PutWait = %v", w)
	}
	fk.SetPointError("sp", &drivers.DeviceError{Code: 2})
	if err := ch.PutWait(ctx, dbr.Doubles{43}); err == nil {
		t.Fatal("failed write: PutWait succeeded")
	}
	v, md, err := ch.Get(ctx, dbr.TimeDouble, 1)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v) != "[42]" || md.Alarm != (dbr.Alarm{Status: dbr.StatusWrite, Severity: dbr.SeverityInvalid}) {
		t.Errorf("after failed write: %v %v, want [42] WRITE/INVALID", v, md.Alarm)
	}
	if len(fk.Writes()) != 1 {
		t.Errorf("writes = %v", fk.Writes())
	}
}
