package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		in   drivers.Value
		to   drivers.Kind
		want drivers.Value
		err  bool
	}{
		{"same kind", drivers.Floats{1.5}, drivers.KindFloat, drivers.Floats{1.5}, false},
		{"float to int rounds", drivers.Floats{2.5, -2.5, 9.9999999}, drivers.KindInt, drivers.Ints{3, -3, 10}, false},
		{"float to uint", drivers.Floats{65535}, drivers.KindUint, drivers.Uints{65535}, false},
		{"negative float to uint", drivers.Floats{-1}, drivers.KindUint, nil, true},
		{"NaN to int", drivers.Floats{math.NaN()}, drivers.KindInt, nil, true},
		{"huge float to int", drivers.Floats{1e19}, drivers.KindInt, nil, true},
		{"int to uint", drivers.Ints{7}, drivers.KindUint, drivers.Uints{7}, false},
		{"negative int to uint", drivers.Ints{-7}, drivers.KindUint, nil, true},
		{"big uint to int", drivers.Uints{math.MaxUint64}, drivers.KindInt, nil, true},
		{"big uint to float", drivers.Uints{1 << 63}, drivers.KindFloat, drivers.Floats{1 << 63}, false},
		{"bool to int", drivers.Bools{true, false}, drivers.KindInt, drivers.Ints{1, 0}, false},
		{"float to bool", drivers.Floats{0, 0.5, -1}, drivers.KindBool, drivers.Bools{false, true, true}, false},
		{"uint to bool", drivers.Uints{0, 2}, drivers.KindBool, drivers.Bools{false, true}, false},
		{"int to string", drivers.Ints{-12}, drivers.KindString, drivers.Strings{"-12"}, false},
		{"uint to string", drivers.Uints{math.MaxUint64}, drivers.KindString, drivers.Strings{"18446744073709551615"}, false},
		{"float to string", drivers.Floats{0.1}, drivers.KindString, drivers.Strings{"0.1"}, false},
		{"bool to string", drivers.Bools{true}, drivers.KindString, drivers.Strings{"1"}, false},
		{"string to float", drivers.Strings{"1e3"}, drivers.KindFloat, drivers.Floats{1000}, false},
		{"string to int hex", drivers.Strings{"0x10"}, drivers.KindInt, drivers.Ints{16}, false},
		{"string to bool", drivers.Strings{"true"}, drivers.KindBool, drivers.Bools{true}, false},
		{"bad string", drivers.Strings{"x"}, drivers.KindUint, nil, true},
		{"to invalid", drivers.Ints{1}, drivers.KindInvalid, nil, true},
		{"nil", nil, drivers.KindInt, nil, true},
		{"empty", drivers.Ints{}, drivers.KindFloat, drivers.Floats{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := drivers.Convert(tc.in, tc.to)
			if tc.err {
				if !errors.Is(err, drivers.ErrBadValue) {
					t.Errorf("Convert(%v, %v) = %v, %v; want ErrBadValue", tc.in, tc.to, got, err)
				}
				return
			}
			if err != nil || !drivers.Equal(got, tc.want) {
				t.Errorf("Convert(%v, %v) = %v, %v; want %v", tc.in, tc.to, got, err, tc.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b drivers.Value
		want bool
	}{
		{nil, nil, true},
		{drivers.Ints{1}, nil, false},
		{drivers.Ints{1}, drivers.Uints{1}, false},
		{drivers.Floats{math.NaN()}, drivers.Floats{math.NaN()}, true},
		{drivers.Strings{"a", "b"}, drivers.Strings{"a", "b"}, true},
		{drivers.Bools{true}, drivers.Bools{false}, false},
	}
	for _, tc := range tests {
		if got := drivers.Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

// timeoutErr is a net.Error-like timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestAlarmFor(t *testing.T) {
	inv := func(s dbr.Status) dbr.Alarm { return dbr.Alarm{Status: s, Severity: dbr.SeverityInvalid} }
	tests := []struct {
		name string
		op   drivers.Op
		err  error
		want dbr.Alarm
	}{
		{"nil", drivers.OpRead, nil, dbr.Alarm{}},
		{"timeout", drivers.OpRead, fmt.Errorf("x: %w", drivers.ErrTimeout), inv(dbr.StatusTimeout)},
		{"write timeout", drivers.OpWrite, drivers.ErrTimeout, inv(dbr.StatusTimeout)},
		{"deadline", drivers.OpRead, context.DeadlineExceeded, inv(dbr.StatusTimeout)},
		{"os deadline", drivers.OpRead, fmt.Errorf("read: %w", os.ErrDeadlineExceeded), inv(dbr.StatusTimeout)},
		{"net timeout", drivers.OpRead, fmt.Errorf("dial: %w", timeoutErr{}), inv(dbr.StatusTimeout)},
		{"disconnected", drivers.OpRead, drivers.ErrDisconnected, inv(dbr.StatusComm)},
		{"timeout and disconnected", drivers.OpRead, errors.Join(drivers.ErrDisconnected, drivers.ErrTimeout), inv(dbr.StatusTimeout)},
		{"closed", drivers.OpWrite, drivers.ErrClosed, inv(dbr.StatusComm)},
		{"cancelled", drivers.OpRead, context.Canceled, inv(dbr.StatusComm)},
		{"bad point read", drivers.OpRead, drivers.ErrBadPoint, inv(dbr.StatusRead)},
		{"bad point write", drivers.OpWrite, drivers.ErrBadPoint, inv(dbr.StatusWrite)},
		{"exception", drivers.OpRead, &drivers.DeviceError{Code: 2}, inv(dbr.StatusRead)},
		{"read-only", drivers.OpWrite, drivers.ErrReadOnly, inv(dbr.StatusWrite)},
		{"unknown", drivers.OpRead, errors.New("boom"), inv(dbr.StatusRead)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := drivers.AlarmFor(tc.op, tc.err); got != tc.want {
				t.Errorf("AlarmFor(%v, %v) = %v, want %v", tc.op, tc.err, got, tc.want)
			}
		})
	}
}

func TestDeviceError(t *testing.T) {
	err := fmt.Errorf("modbus: plc1: read hr:7: %w", &drivers.DeviceError{Code: 2, Text: "illegal data address"})
	if !errors.Is(err, drivers.ErrDevice) {
		t.Error("DeviceError does not wrap ErrDevice")
	}
	if code, ok := drivers.ExceptionCode(err); !ok || code != 2 {
		t.Errorf("ExceptionCode = %d, %v", code, ok)
	}
	if _, ok := drivers.ExceptionCode(drivers.ErrTimeout); ok {
		t.Error("ExceptionCode of a timeout")
	}
	want := "modbus: plc1: read hr:7: drivers: device error: exception 2 (illegal data address)"
	if err.Error() != want {
		t.Errorf("Error() = %q", err)
	}
	if !drivers.Retryable(errors.Join(drivers.ErrNotSent, drivers.ErrDisconnected)) || drivers.Retryable(drivers.ErrDisconnected) {
		t.Error("Retryable")
	}
}

func TestRegistry(t *testing.T) {
	var reg drivers.Registry
	boom := errors.New("bad config")
	f := func(p drivers.Params) (drivers.Device, error) { return nil, boom }
	if err := reg.Register("b", f); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("a", f); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("a", f); !errors.Is(err, drivers.ErrDuplicate) {
		t.Errorf("duplicate Register = %v", err)
	}
	if err := reg.Register("", f); err == nil {
		t.Error("empty name accepted")
	}
	if err := reg.Register("c", nil); err == nil {
		t.Error("nil factory accepted")
	}
	if got := strings.Join(reg.Names(), ","); got != "a,b" {
		t.Errorf("Names() = %s", got)
	}
	_, err := reg.New("modbus", drivers.Params{Name: "plc1"})
	if !errors.Is(err, drivers.ErrUnknownDriver) || !strings.Contains(err.Error(), "known: a, b") {
		t.Errorf("New(unknown) = %v", err)
	}
	_, err = reg.New("a", drivers.Params{Name: "plc1"})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `device "plc1" (a)`) {
		t.Errorf("New = %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	type cfg struct {
		Host    string           `json:"host"`
		Timeout drivers.Duration `json:"timeout"`
	}
	tests := []struct {
		name, in string
		want     cfg
		err      string
	}{
		{"ok", `{"host": "plc", "timeout": "1.5s"}`, cfg{"plc", drivers.Duration(1500 * time.Millisecond)}, ""},
		{"unknown key", `{"hots": "plc"}`, cfg{}, `unknown field "hots"`},
		{"bad duration", `{"timeout": "soon"}`, cfg{}, `bad duration "soon"`},
		{"trailing", `{} {}`, cfg{}, "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got cfg
			err := drivers.DecodeJSON([]byte(tc.in))(&got)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
	b, _ := drivers.Duration(90 * time.Second).MarshalText()
	if string(b) != "1m30s" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestConfigErrors(t *testing.T) {
	var errs drivers.ConfigErrors
	if errs.Err() != nil {
		t.Fatal("empty ConfigErrors is an error")
	}
	errs.Add("timeout", drivers.Duration(0), "must be positive")
	errs.Add("points[3].address", nil, "missing: %w", drivers.ErrBadPoint)
	err := errs.Err()
	want := "timeout: 0s: must be positive\npoints[3].address: missing: drivers: bad point"
	if err.Error() != want {
		t.Errorf("Err() = %q", err)
	}
	if !errors.Is(err, drivers.ErrBadPoint) {
		t.Error("ConfigError does not unwrap")
	}
}

func TestCountersAndStrings(t *testing.T) {
	var c drivers.Counters
	c.SetConnected(true)
	c.AddRequests(3)
	c.AddError(nil)
	c.AddError(&drivers.DeviceError{Code: 6, Text: "busy"})
	c.AddError(drivers.ErrTimeout)
	c.ObserveRead(2 * time.Millisecond)
	c.ObserveRead(time.Millisecond)
	want := drivers.Stats{Connected: true, Requests: 3, Errors: 2, LastError: "drivers: timeout", LastException: 6,
		LastRead: time.Millisecond, MaxRead: 2 * time.Millisecond}
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	bit := 3
	strs := []struct{ got, want string }{
		{drivers.PointSpec{Address: "hr:1", Type: "float32", Order: "CDAB", Bit: &bit, Len: 2, Options: map[string]string{"b": "2", "a": "1"}}.String(),
			"hr:1 type=float32 order=CDAB bit=3 len=2 a=1 b=2"},
		{drivers.Type{Kind: drivers.KindFloat, Bits: 32, Len: 1, Access: drivers.AccessReadWrite}.String(), "float32[1] rw"},
		{drivers.Type{Kind: drivers.KindString, MaxLen: 16, Len: 1, Access: drivers.AccessRead}.String(), "string(16)[1] r"},
		{drivers.Type{Kind: drivers.KindBool, Bits: 1, Len: 8, Access: drivers.AccessWrite}.String(), "bool[8] w"},
		{drivers.Access(0).String(), "none"},
		{drivers.Kind(99).String(), "Kind(99)"},
		{drivers.OpWrite.String(), "write"},
	}
	for _, s := range strs {
		if s.got != s.want {
			t.Errorf("got %q, want %q", s.got, s.want)
		}
	}
	for k := drivers.KindInvalid; k <= drivers.KindString; k++ {
		if v := drivers.MakeValue(k, 2); (v == nil) != (k == drivers.KindInvalid) || (v != nil && (v.Kind() != k || v.Len() != 2)) {
			t.Errorf("MakeValue(%v, 2) = %#v", k, v)
		}
	}
}
