package drivers_test

import (
	"fmt"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

func TestAlarmForMismatch(t *testing.T) {
	err := fmt.Errorf("serial: psu: read meas: reply %q: %w", "##", drivers.ErrMismatch)
	for _, op := range []drivers.Op{drivers.OpRead, drivers.OpWrite} {
		if a := drivers.AlarmFor(op, err); a != (dbr.Alarm{Status: dbr.StatusCalc, Severity: dbr.SeverityInvalid}) {
			t.Errorf("AlarmFor(%v, mismatch) = %v, want CALC/INVALID", op, a)
		}
	}
	// A timeout wins over a mismatch wrapped with it.
	both := fmt.Errorf("%w after %w", drivers.ErrTimeout, drivers.ErrMismatch)
	if a := drivers.AlarmFor(drivers.OpRead, both); a.Status != dbr.StatusTimeout {
		t.Errorf("AlarmFor(timeout and mismatch) = %v, want TIMEOUT", a)
	}
}
