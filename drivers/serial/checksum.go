package serial

import (
	"encoding/hex"
	"strings"

	"github.com/cabridge/cabridge/drivers/internal/crc"
)

// checksum is one of the checksum algorithms of a %<name> conversion. Its
// bytes are sent in the order the instruments that use it expect: CRC-16
// Modbus low byte first, CRC-CCITT high byte first.
type checksum struct {
	name string
	size int                   // bytes
	sum  func(b []byte) uint16 // the checksum of b
	le   bool                  // low byte first
}

//nolint:gochecknoglobals // read-only table of the checksum algorithms
var checksums = []*checksum{
	{name: "sum8", size: 1, sum: sum8},
	{name: "xor8", size: 1, sum: xor8},
	{name: "lrc", size: 1, sum: func(b []byte) uint16 { return uint16(uint8(-int8(sum8(b)))) }},
	{name: "crc16-modbus", size: 2, sum: crc.Modbus, le: true},
	{name: "crc-ccitt", size: 2, sum: crcCCITT},
}

// checksumByName returns the algorithm called name.
func checksumByName(name string) (*checksum, bool) {
	for _, c := range checksums {
		if c.name == name {
			return c, true
		}
	}
	return nil, false
}

// checksumNames lists the algorithms for error messages.
func checksumNames() string {
	names := make([]string, len(checksums))
	for i, c := range checksums {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func sum8(b []byte) uint16 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return uint16(s)
}

func xor8(b []byte) uint16 {
	var s uint8
	for _, c := range b {
		s ^= c
	}
	return uint16(s)
}

// crcCCITT is CRC-16/CCITT-FALSE: polynomial 0x1021, init 0xFFFF.
func crcCCITT(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// raw returns the checksum of msg as the bytes sent on the wire.
func (c *checksum) raw(msg []byte) []byte {
	v := c.sum(msg)
	if c.size == 1 {
		return []byte{byte(v)}
	}
	if c.le {
		return []byte{byte(v), byte(v >> 8)}
	}
	return []byte{byte(v >> 8), byte(v)}
}

// append appends the checksum of msg to dst: raw bytes, or upper-case hex
// text when flags has the 0 flag.
func (c *checksum) append(dst, msg []byte, flags string) []byte {
	r := c.raw(msg)
	if strings.Contains(flags, "0") {
		return append(dst, strings.ToUpper(hex.EncodeToString(r))...)
	}
	return append(dst, r...)
}

// verify checks that rest starts with the checksum of msg (as append
// writes it, hex case-insensitive) and returns its length.
func (c *checksum) verify(msg, rest []byte, flags string) (int, bool) {
	want := c.append(nil, msg, flags)
	if len(rest) < len(want) {
		return 0, false
	}
	got := rest[:len(want)]
	if strings.Contains(flags, "0") {
		return len(want), strings.EqualFold(string(got), string(want))
	}
	return len(want), string(got) == string(want)
}
