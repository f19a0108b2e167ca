package crc

import "testing"

func TestModbus(t *testing.T) {
	// The catalogue check value of CRC-16/MODBUS, and a read request
	// whose CRC bytes on the wire are 0x84 0x0A.
	if got := Modbus([]byte("123456789")); got != 0x4B37 {
		t.Errorf("check value %#04x, want 0x4b37", got)
	}
	if got := Modbus([]byte{1, 3, 0, 0, 0, 1}); got != 0x0A84 {
		t.Errorf("read request CRC %#04x, want 0x0a84", got)
	}
}
