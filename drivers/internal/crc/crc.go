// Package crc holds the checksums that several drivers and their test
// servers share.
package crc

// Modbus returns the CRC-16/MODBUS of b (reflected polynomial 0xA001,
// initial value 0xFFFF), as Modbus RTU frames end with it (low byte
// first).
func Modbus(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}
