package modbus

import (
	"net"
	"strings"
	"time"

	"github.com/cabridge/cabridge/drivers"
)

// TransportKind names how a device is reached.
type TransportKind string

// The transports.
const (
	// TransportTCP is Modbus TCP (MBAP framing) to host:port.
	TransportTCP TransportKind = "tcp"
	// TransportRTU is Modbus RTU over a serial line.
	TransportRTU TransportKind = "rtu"
	// TransportASCII is Modbus ASCII over a serial line.
	TransportASCII TransportKind = "ascii"
	// TransportRTUOverTCP is RTU framing (with CRC) over a TCP socket to a
	// serial-device server.
	TransportRTUOverTCP TransportKind = "rtu_over_tcp"
)

// Default config values.
const (
	DefaultTimeout  = time.Second // Config.Timeout
	DefaultUnitID   = 1           // Config.UnitID
	DefaultBaudRate = 19200       // Config.BaudRate
)

// Config is the config section of a Modbus device.
//
//	transport: tcp
//	address: 192.168.1.10:502
//	unit_id: 1
//	timeout: 500ms
//	max_registers: 100
//	max_gap: 10
//	bit_write: mask
//	single_write: single
type Config struct {
	// Transport is tcp (the default), rtu, ascii or rtu_over_tcp.
	Transport TransportKind `json:"transport"`
	// Address is host:port for tcp and rtu_over_tcp.
	Address string `json:"address"`
	// Device is the serial device (/dev/ttyUSB0) for rtu and ascii.
	Device string `json:"device"`
	// BaudRate of the serial line; default 19200.
	BaudRate int `json:"baud_rate"`
	// DataBits of the serial line: 7 or 8 (the default).
	DataBits int `json:"data_bits"`
	// Parity of the serial line: none, even (the default) or odd; N, E
	// and O are accepted too.
	Parity string `json:"parity"`
	// StopBits of the serial line: 1 (the default) or 2.
	StopBits int `json:"stop_bits"`
	// UnitID is the unit (slave) id, 0..255; default 1.
	UnitID *int `json:"unit_id"`
	// Timeout bounds one request and its reply; default 1s.
	Timeout drivers.Duration `json:"timeout"`
	// MaxRegisters is the largest number of registers one read may
	// fetch, 1..125; 0 means 125.
	MaxRegisters int `json:"max_registers"`
	// MaxBits is the largest number of coils or discrete inputs one read
	// may fetch, 1..2000; 0 means 2000.
	MaxBits int `json:"max_bits"`
	// MaxGap is the longest run of unmapped registers a read may span.
	MaxGap int `json:"max_gap"`
	// MaxBitGap is the longest run of unmapped bits a read may span.
	MaxBitGap int `json:"max_bit_gap"`
	// BitWrite is how a bit of a holding register is written: mask (FC22,
	// the default), read_modify_write (FC3 then FC6, not atomic) or
	// refuse.
	BitWrite string `json:"bit_write"`
	// SingleWrite is how a one-register or one-coil value is written:
	// single (FC6/FC5, the default) or multiple (FC16/FC15).
	SingleWrite string `json:"single_write"`
}

// Validate checks c without I/O and reports every problem, as
// drivers.ConfigErrors joined.
func (c *Config) Validate() error {
	var errs drivers.ConfigErrors
	switch c.transport() {
	case TransportTCP, TransportRTUOverTCP:
		if c.Address == "" {
			errs.Add("address", nil, "missing host:port")
		} else if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
			errs.Add("address", c.Address, "want host:port")
		}
		if c.Device != "" {
			errs.Add("device", c.Device, "a serial device is only for transport rtu or ascii")
		}
	case TransportRTU, TransportASCII:
		if c.Device == "" {
			errs.Add("device", nil, "missing serial device (e.g. /dev/ttyUSB0)")
		}
		if c.Address != "" {
			errs.Add("address", c.Address, "an address is only for transport tcp or rtu_over_tcp")
		}
	default:
		errs.Add("transport", string(c.Transport), "unknown transport (want tcp, rtu, ascii or rtu_over_tcp)")
	}
	if c.BaudRate < 0 {
		errs.Add("baud_rate", c.BaudRate, "must be positive")
	}
	if c.DataBits != 0 && c.DataBits != 7 && c.DataBits != 8 {
		errs.Add("data_bits", c.DataBits, "want 7 or 8")
	}
	if c.StopBits != 0 && c.StopBits != 1 && c.StopBits != 2 {
		errs.Add("stop_bits", c.StopBits, "want 1 or 2")
	}
	if _, ok := parseParity(c.Parity); !ok {
		errs.Add("parity", c.Parity, "want none, even or odd")
	}
	if c.UnitID != nil && (*c.UnitID < 0 || *c.UnitID > 255) {
		errs.Add("unit_id", *c.UnitID, "out of range 0..255")
	}
	if c.Timeout < 0 {
		errs.Add("timeout", c.Timeout, "must not be negative")
	}
	if c.MaxRegisters < 0 || c.MaxRegisters > MaxReadRegisters {
		errs.Add("max_registers", c.MaxRegisters, "out of range 1..%d", MaxReadRegisters)
	}
	if c.MaxBits < 0 || c.MaxBits > MaxReadBits {
		errs.Add("max_bits", c.MaxBits, "out of range 1..%d", MaxReadBits)
	}
	if c.MaxGap < 0 {
		errs.Add("max_gap", c.MaxGap, "must not be negative")
	}
	if c.MaxBitGap < 0 {
		errs.Add("max_bit_gap", c.MaxBitGap, "must not be negative")
	}
	if _, err := ParseBitWriteMode(c.BitWrite); err != nil {
		errs.Add("bit_write", c.BitWrite, "want mask, read_modify_write or refuse")
	}
	if _, ok := parseSingleWrite(c.SingleWrite); !ok {
		errs.Add("single_write", c.SingleWrite, "want single or multiple")
	}
	return errs.Err()
}

// transport returns the transport, tcp when empty.
func (c *Config) transport() TransportKind {
	if c.Transport == "" {
		return TransportTCP
	}
	return TransportKind(strings.ToLower(string(c.Transport)))
}

// unitID returns the unit id, DefaultUnitID when unset.
func (c *Config) unitID() byte {
	if c.UnitID == nil {
		return DefaultUnitID
	}
	return byte(*c.UnitID)
}

// timeout returns the request timeout, DefaultTimeout when unset.
func (c *Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return time.Duration(c.Timeout)
}

// limits returns the read limits of the planner.
func (c *Config) limits() Limits {
	return Limits{MaxRegisters: c.MaxRegisters, MaxBits: c.MaxBits, MaxGap: c.MaxGap, MaxBitGap: c.MaxBitGap}
}

// writeOptions returns the write options; c must be valid.
func (c *Config) writeOptions() WriteOptions {
	b, _ := ParseBitWriteMode(c.BitWrite)
	s, _ := parseSingleWrite(c.SingleWrite)
	return WriteOptions{Bits: b, Single: s}
}

// parseParity returns goburrow's parity letter for s.
func parseParity(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "even", "e":
		return "E", true
	case "none", "n":
		return "N", true
	case "odd", "o":
		return "O", true
	}
	return "", false
}

// parseSingleWrite parses single (or empty) and multiple.
func parseSingleWrite(s string) (SingleWriteMode, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "single":
		return WriteSingle, true
	case "multiple":
		return WriteMultiple, true
	}
	return 0, false
}
