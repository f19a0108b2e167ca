package modbus

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	hr := func(off uint16) Address { return Address{Table: HoldingRegister, Offset: off} }
	withBit := func(a Address, n int) Address {
		b, err := a.WithBit(n)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		in   string
		want Address
		str  string // canonical String
	}{
		{"hr:100", hr(100), "hr:100"},
		{"HR:100", hr(100), "hr:100"},
		{" holding:0 ", hr(0), "hr:0"},
		{"holding_register:65535", hr(65535), "hr:65535"},
		{"hr:0x64", hr(100), "hr:100"},
		{"hr:0XFFFF", hr(65535), "hr:65535"},
		{"hr:40001", hr(40001), "hr:40001"}, // prefixed offsets are zero-based
		{"ir:7", Address{Table: InputRegister, Offset: 7}, "ir:7"},
		{"input_registers:7", Address{Table: InputRegister, Offset: 7}, "ir:7"},
		{"di:5", Address{Table: DiscreteInput, Offset: 5}, "di:5"},
		{"discrete_input:5", Address{Table: DiscreteInput, Offset: 5}, "di:5"},
		{"coil:3", Address{Table: Coil, Offset: 3}, "coil:3"},
		{"c:3", Address{Table: Coil, Offset: 3}, "coil:3"},
		{"co:3", Address{Table: Coil, Offset: 3}, "coil:3"},
		{"hr:100.3", withBit(hr(100), 3), "hr:100.3"},
		{"hr:100.15", withBit(hr(100), 15), "hr:100.15"},
		{"ir:2.0", withBit(Address{Table: InputRegister, Offset: 2}, 0), "ir:2.0"},
		// Modicon references, 1-based.
		{"40001", hr(0), "hr:0"},
		{"49999", hr(9998), "hr:9998"},
		{"400001", hr(0), "hr:0"},
		{"465536", hr(65535), "hr:65535"},
		{"30010", Address{Table: InputRegister, Offset: 9}, "ir:9"},
		{"300010", Address{Table: InputRegister, Offset: 9}, "ir:9"},
		{"10001", Address{Table: DiscreteInput, Offset: 0}, "di:0"},
		{"00001", Address{Table: Coil, Offset: 0}, "coil:0"},
		{"000100", Address{Table: Coil, Offset: 99}, "coil:99"},
		{"40001.7", withBit(hr(0), 7), "hr:0.7"},
	}
	for _, tc := range tests {
		got, err := ParseAddress(tc.in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseAddress(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseAddress(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
		if back, err := ParseAddress(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %v, %v", got.String(), back, err)
		}
	}
}

func TestParseAddressErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error
	}{
		{"", `address "": empty`},
		{"hr:70000", `address "hr:70000": offset 70000 out of range 0..65535`},
		{"hr:65536", "out of range 0..65535"},
		{"hr:0x10000", "out of range 0..65535"},
		{"hr:99999999999999999999", "out of range 0..65535"},
		{"hr:", "missing offset"},
		{"hr:-1", `offset "-1" is not a number`},
		{"hr:1e3", "is not a number"},
		{"xx:1", `unknown table "xx"`},
		{"input:1", `unknown table "input"`},
		{"100", "a bare number must be a 5- or 6-digit Modicon reference"},
		{"100", "write hr:100 for holding register offset 100"},
		{"4000001", "5- or 6-digit"},
		{"40000", "Modicon register number 0000 out of range 1..9999"},
		{"400000", "out of range 1..65536"},
		{"465537", "out of range 1..65536"},
		{"20001", "must start with 0 (coil), 1 (discrete input), 3 (input register) or 4"},
		{"hr:10.16", "bit 16 out of range 0..15"},
		{"hr:10.-1", `bit "-1" is not a number`},
		{"hr:10.", `bit "" is not a number`},
		{"hr:10.x", `bit "x" is not a number`},
		{"coil:10.1", "a coil is a single bit and has no bit 1"},
		{"10001.2", "a discrete_input is a single bit"},
		{"hr", "want table:offset"},
		{".3", "missing address"},
	}
	for _, tc := range tests {
		_, err := ParseAddress(tc.in)
		if err == nil {
			t.Errorf("ParseAddress(%q) succeeded, want error with %q", tc.in, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "modbus: address ") {
			t.Errorf("ParseAddress(%q) error %q, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		t        Table
		fc       FunctionCode
		bits     bool
		writable bool
		max      int
	}{
		{Coil, FuncReadCoils, true, true, 2000},
		{DiscreteInput, FuncReadDiscreteInputs, true, false, 2000},
		{InputRegister, FuncReadInputRegisters, false, false, 125},
		{HoldingRegister, FuncReadHoldingRegisters, false, true, 125},
	}
	for _, tc := range tests {
		if tc.t.ReadFunction() != tc.fc || tc.t.IsBits() != tc.bits || tc.t.Writable() != tc.writable || tc.t.MaxRead() != tc.max {
			t.Errorf("%v: got %v %v %v %v", tc.t, tc.t.ReadFunction(), tc.t.IsBits(), tc.t.Writable(), tc.t.MaxRead())
		}
		back, err := ParseTable(tc.t.String())
		if err != nil || back != tc.t {
			t.Errorf("ParseTable(%q) = %v, %v", tc.t.String(), back, err)
		}
	}
	if Table(0).Valid() || Table(5).Valid() || Table(0).ReadFunction() != 0 {
		t.Error("invalid tables pass")
	}
	if _, err := ParseTable("registers"); err == nil {
		t.Error("ParseTable(registers) succeeded")
	}
}

func TestNewAddress(t *testing.T) {
	if _, err := NewAddress(HoldingRegister, 65536); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("NewAddress(65536): %v", err)
	}
	if _, err := NewAddress(0, 1); err == nil {
		t.Error("NewAddress with table 0 succeeded")
	}
	a, err := NewAddress(Coil, 9)
	if err != nil || a.String() != "coil:9" {
		t.Fatalf("NewAddress(Coil, 9) = %v, %v", a, err)
	}
	if _, err := a.WithBit(1); err == nil {
		t.Error("WithBit on a coil succeeded")
	}
	h, _ := NewAddress(HoldingRegister, 9)
	if _, err := h.WithBit(16); err == nil {
		t.Error("WithBit(16) succeeded")
	}
	if b, ok := h.Bit(); ok || b != 0 {
		t.Errorf("Bit of a whole register = %d, %v", b, ok)
	}
}

func TestExceptionCode(t *testing.T) {
	if s := ExceptionIllegalDataAddress.String(); s != "illegal data address (0x02)" {
		t.Errorf("String = %q", s)
	}
	if s := ExceptionCode(0x42).String(); s != "exception (0x42)" {
		t.Errorf("String = %q", s)
	}
	for c := ExceptionCode(0); c < 0x10; c++ {
		want := c >= 1 && c <= 3
		if c.AboutRequest() != want {
			t.Errorf("%v.AboutRequest() = %v", c, !want)
		}
	}
}

// FuzzParseAddress checks that parsing never panics and that every
// accepted address prints in a form that parses back to itself.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"hr:100", "hr:100.3", "40001", "400001", "coil:0", "di:0x10", "ir:65535", "hr:", ".", "465536.15", "hr:0x", "3000a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "modbus: address ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if !a.Table.Valid() {
			t.Fatalf("ParseAddress(%q) = invalid table", s)
		}
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip %q -> %q -> %v, %v", s, a.String(), b, err)
		}
	})
}
