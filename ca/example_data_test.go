package ca_test

import (
	"context"
	"fmt"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

func ExampleDouble() {
	d := ca.NewDouble(ca.Options{Units: "mm", Precision: 3}, 3.14)
	d.Set(2.5) // a driver push: new value, timestamp now, alarm unchanged
	d.SetAlarm(dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor})

	s := d.Snapshot() // immutable; value, alarm and stamp belong together
	fmt.Println(d.Value(), s.Meta.Alarm, s.Meta.Properties.Units, s.Meta.Properties.ClassName)
	// Output: 2.5 HIHI/MAJOR mm ao
}

func ExampleDouble_Post() {
	wf := ca.NewDouble(ca.Options{MaxLength: 4})
	alarm := dbr.Alarm{Status: dbr.StatusComm, Severity: dbr.SeverityInvalid}
	err := wf.Post(ca.Post[float64]{Values: []float64{1, 2, 3}, Alarm: &alarm})
	fmt.Println(wf.Values(), wf.Alarm(), err)

	err = wf.SetArray([]float64{1, 2, 3, 4, 5})
	fmt.Println(err)
	// Output:
	// [1 2 3] COMM/INVALID <nil>
	// ca: invalid value: 5 elements, maximum 4
}

func ExampleEnum() {
	e := ca.NewEnum(ca.Options{}, []string{"Off", "On"}, 0)
	ctx := context.Background()

	// CA clients may write a state name, an index in a string, or a number.
	_ = e.Put(ctx, dbr.Strings{"On"})
	fmt.Println(e.Value())

	err := e.Put(ctx, dbr.Enums{5})
	fmt.Println(eca.Of(err, eca.PutFail).Name(), e.Value())
	// Output:
	// 1
	// ECA_PUTFAIL 1
}

func ExampleChar() {
	c := ca.NewChar(ca.Options{MaxLength: 64}, "a long string")
	n, maxLen := c.Native()
	fmt.Println(n, maxLen, c.Snapshot().Value.Len(), c.Value())
	// Output: DBR_CHAR 64 14 a long string
}

// printer is a Subscriber that prints each update.
type printer struct{}

func (printer) Update(s *ca.Snapshot, events dbr.EventMask) {
	fmt.Println(s.Value, events)
}

func ExampleDouble_Subscribe() {
	d := ca.NewDouble(ca.Options{ValueDeadband: 0.5}, 0)
	cancel := d.Subscribe(printer{})
	defer cancel()

	d.Set(0.3) // within MDEL: only DBE_LOG (ADEL is 0)
	d.Set(1)   // beyond MDEL
	d.Set(1)   // identical: no update
	d.SetUnits("V")
	// Output:
	// [0.3] LOG
	// [1] VALUE|LOG
	// [1] PROPERTY
}
