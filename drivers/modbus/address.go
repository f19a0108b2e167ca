// Package modbus is the Modbus driver: a drivers.Device (Device, New) over
// github.com/goburrow/modbus with its own TCP and RTU-over-TCP transport
// (StreamTransporter, which matches replies by transaction id), built on a
// pure core: addresses, data types and their register encodings, write
// requests and the read planner, which do no I/O, start no goroutines and
// read no clock.
//
// # Addresses
//
// A point's address names one of the four Modbus tables and a zero-based
// protocol offset (the number that goes on the wire), written
// "table:offset":
//
//	coil:12   c:12   co:12                       coil 12 (FC1 read, FC5/FC15 write)
//	di:7      discrete_input:7                   discrete input 7 (FC2, read-only)
//	ir:0      input_register:0                   input register 0 (FC4, read-only)
//	hr:100    holding_register:100  holding:100  holding register 100 (FC3, FC6/FC16, FC22)
//	hr:0x64                                      offsets may be hexadecimal
//	hr:100.3                                     bit 3 of holding register 100 (bit 0 is the LSB)
//
// The classic Modicon references are accepted as an alias: a bare number of
// exactly 5 digits (first digit table, then a 1-based register number
// 1..9999) or 6 digits (1..65536). The first digit selects the table: 0
// coil, 1 discrete input, 3 input register, 4 holding register. So 40001 and
// 400001 are both hr:0, 30010 is ir:9, 00001 is coil:0 and 465536 is
// hr:65535. A prefixed offset is always zero-based: "hr:40001" is holding
// register offset 40001, not the Modicon reference 40001. A bare number
// with any other number of digits is rejected, since it is ambiguous.
//
// # Data types and byte orders
//
// See Type, Format, Order and ParseType. Multi-register values are named by
// the order of their bytes in the registers as they come off the wire,
// where A is the most significant byte: ABCD is big-endian (the Modbus
// convention), CDAB swaps the words, BADC swaps the bytes in each word and
// DCBA is little-endian. For 64-bit values the same four orders are written
// ABCDEFGH, GHEFCDAB, BADCFEHG and HGFEDCBA (the four-letter names are
// accepted for them and mean the same swaps). The EPICS modbus module's
// type names are accepted as aliases: INT32_BE is int32 ABCD, INT32_LE
// CDAB, INT32_BE_BS BADC and INT32_LE_BS DCBA, and likewise for the other
// 32- and 64-bit types.
//
// # Read planning
//
// NewPlan coalesces the points a device reads in one scan period into the
// fewest read requests the protocol limits allow, and Plan.Failed learns
// from Modbus exceptions so that a bad address costs only its own points.
//
// # Connections
//
// The package-level New (and NewDevice) gives each device a connection of
// its own. A Driver, owned by the daemon, builds devices that share
// connections: all devices whose configs name the same transport and
// address (units behind one TCP gateway, or units on one RS-485 bus, one
// serial device) use one connection, ref-counted, closed with the last
// device. Devices on one link must agree on its settings (transport,
// baud rate, data bits, parity, stop bits, and the timeout for serial
// lines); Driver.New reports a *drivers.ConfigError otherwise.
//
// On a connection one request is in flight at a time, and units take
// turns request by request in the order they asked, so a coalesced read
// of many blocks does not hold the link for the whole read. Modbus TCP
// replies are matched by a transaction id the connection assigns itself,
// so a late reply (of a unit that timed out) is dropped and never taken
// for another unit's; with RTU framing a timeout drops the connection
// instead, since RTU frames carry no transaction id.
//
// A unit of a Driver that times out fails fast: until its next probe time
// its requests return at once with an error wrapping drivers.ErrTimeout
// and drivers.ErrNotSent ("unit 3 not answering since 15:04:05.000 (2
// timeouts); next probe at 15:04:05.600"). The wait doubles from
// Driver.ProbeBackoff up to Driver.MaxProbeBackoff and an answer (a reply
// or a Modbus exception) resets it, so a dead unit costs the others at
// most one timeout per back-off period.
//
// When a shared connection breaks, the request in flight fails with
// drivers.ErrDisconnected and the next request of any device on the link
// dials again: every device transparently uses the new connection. Open
// of a shared device connects the link unless it is up and never drops
// a working connection under the other devices.
//
// # Testing
//
// Package modbustest has an in-process Modbus server (Modbus TCP or RTU
// over TCP, several units, fault injection) for tests and benchmarks.
package modbus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Protocol limits (Modbus Application Protocol v1.1b3, section 6).
const (
	// MaxReadRegisters is the largest quantity of one FC3 or FC4 read.
	MaxReadRegisters = 125
	// MaxReadBits is the largest quantity of one FC1 or FC2 read.
	MaxReadBits = 2000
	// MaxWriteRegisters is the largest quantity of one FC16 write.
	MaxWriteRegisters = 123
	// MaxWriteCoils is the largest quantity of one FC15 write.
	MaxWriteCoils = 1968
	// AddressSpace is the number of addresses in each table: offsets are
	// 0..65535 and a value must end at or before AddressSpace.
	AddressSpace = 65536
)

// Table is one of the four Modbus data tables.
type Table uint8

// The tables. The zero Table is invalid.
const (
	Coil            Table = iota + 1 // read-write bits: FC1, FC5, FC15
	DiscreteInput                    // read-only bits: FC2
	InputRegister                    // read-only registers: FC4
	HoldingRegister                  // read-write registers: FC3, FC6, FC16, FC22
)

// String returns the table's config name: "coil", "discrete_input",
// "input_register" or "holding_register".
func (t Table) String() string {
	switch t {
	case Coil:
		return "coil"
	case DiscreteInput:
		return "discrete_input"
	case InputRegister:
		return "input_register"
	case HoldingRegister:
		return "holding_register"
	}
	return fmt.Sprintf("Table(%d)", uint8(t))
}

// prefix is the short form used by Address.String.
func (t Table) prefix() string {
	switch t {
	case Coil:
		return "coil"
	case DiscreteInput:
		return "di"
	case InputRegister:
		return "ir"
	case HoldingRegister:
		return "hr"
	}
	return t.String()
}

// Valid reports whether t is one of the four tables.
func (t Table) Valid() bool { return t >= Coil && t <= HoldingRegister }

// IsBits reports whether t holds single bits (coils and discrete inputs)
// rather than 16-bit registers.
func (t Table) IsBits() bool { return t == Coil || t == DiscreteInput }

// Writable reports whether the protocol can write to t (coils and
// holding registers).
func (t Table) Writable() bool { return t == Coil || t == HoldingRegister }

// ReadFunction returns the function code that reads t: FC1, FC2, FC4 or
// FC3; 0 for an invalid table.
func (t Table) ReadFunction() FunctionCode {
	switch t {
	case Coil:
		return FuncReadCoils
	case DiscreteInput:
		return FuncReadDiscreteInputs
	case InputRegister:
		return FuncReadInputRegisters
	case HoldingRegister:
		return FuncReadHoldingRegisters
	}
	return 0
}

// MaxRead returns the protocol's largest read quantity for t: MaxReadBits
// for bit tables, MaxReadRegisters for register tables.
func (t Table) MaxRead() int {
	if t.IsBits() {
		return MaxReadBits
	}
	return MaxReadRegisters
}

// ParseTable parses a table name, ignoring case: coil, coils, c, co;
// discrete_input, discrete_inputs, di; input_register, input_registers, ir;
// holding_register, holding_registers, holding, hr.
func ParseTable(s string) (Table, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "coil", "coils", "c", "co":
		return Coil, nil
	case "discrete_input", "discrete_inputs", "di":
		return DiscreteInput, nil
	case "input_register", "input_registers", "ir":
		return InputRegister, nil
	case "holding_register", "holding_registers", "holding", "hr":
		return HoldingRegister, nil
	}
	return 0, fmt.Errorf("modbus: unknown table %q (want coil, discrete_input, input_register or holding_register; or c, di, ir, hr)", s)
}

// FunctionCode is a Modbus function code.
type FunctionCode uint8

// The function codes this driver uses.
const (
	FuncReadCoils              FunctionCode = 1
	FuncReadDiscreteInputs     FunctionCode = 2
	FuncReadHoldingRegisters   FunctionCode = 3
	FuncReadInputRegisters     FunctionCode = 4
	FuncWriteSingleCoil        FunctionCode = 5
	FuncWriteSingleRegister    FunctionCode = 6
	FuncWriteMultipleCoils     FunctionCode = 15
	FuncWriteMultipleRegisters FunctionCode = 16
	FuncMaskWriteRegister      FunctionCode = 22
)

// String returns "FC" and the decimal code, e.g. "FC3".
func (f FunctionCode) String() string { return "FC" + strconv.Itoa(int(f)) }

// ExceptionCode is the code of a Modbus exception response.
type ExceptionCode uint8

// The exception codes of the Modbus specification.
const (
	ExceptionIllegalFunction                    ExceptionCode = 0x01
	ExceptionIllegalDataAddress                 ExceptionCode = 0x02
	ExceptionIllegalDataValue                   ExceptionCode = 0x03
	ExceptionServerDeviceFailure                ExceptionCode = 0x04
	ExceptionAcknowledge                        ExceptionCode = 0x05
	ExceptionServerDeviceBusy                   ExceptionCode = 0x06
	ExceptionMemoryParityError                  ExceptionCode = 0x08
	ExceptionGatewayPathUnavailable             ExceptionCode = 0x0A
	ExceptionGatewayTargetDeviceFailedToRespond ExceptionCode = 0x0B
)

// String returns the specification's name of the exception, e.g.
// "illegal data address (0x02)".
func (e ExceptionCode) String() string {
	var s string
	switch e {
	case ExceptionIllegalFunction:
		s = "illegal function"
	case ExceptionIllegalDataAddress:
		s = "illegal data address"
	case ExceptionIllegalDataValue:
		s = "illegal data value"
	case ExceptionServerDeviceFailure:
		s = "server device failure"
	case ExceptionAcknowledge:
		s = "acknowledge"
	case ExceptionServerDeviceBusy:
		s = "server device busy"
	case ExceptionMemoryParityError:
		s = "memory parity error"
	case ExceptionGatewayPathUnavailable:
		s = "gateway path unavailable"
	case ExceptionGatewayTargetDeviceFailedToRespond:
		s = "gateway target device failed to respond"
	default:
		s = "exception"
	}
	return fmt.Sprintf("%s (0x%02X)", s, uint8(e))
}

// AboutRequest reports whether the exception says the request itself is
// unacceptable to the device (illegal function, address or value), so
// that repeating it will fail again. The read planner learns from these;
// the others (busy, device failure, gateway errors) are transient.
func (e ExceptionCode) AboutRequest() bool {
	return e == ExceptionIllegalFunction || e == ExceptionIllegalDataAddress || e == ExceptionIllegalDataValue
}

// Address is a location in a device: a table, a zero-based offset and,
// for a register table, optionally one bit of the register. The zero
// Address is invalid. Addresses are comparable.
type Address struct {
	// Table is the data table.
	Table Table
	// Offset is the zero-based protocol address (what goes on the wire).
	Offset uint16
	// bit is 0 for no bit, n+1 for bit n, so that the zero value and
	// literals without a bit select whole registers.
	bit uint8
}

// NewAddress returns the address of offset in table t, checking that the
// table is valid and the offset is in 0..65535.
func NewAddress(t Table, offset int) (Address, error) {
	if !t.Valid() {
		return Address{}, fmt.Errorf("modbus: invalid table %v", t)
	}
	if offset < 0 || offset >= AddressSpace {
		return Address{}, fmt.Errorf("modbus: %s offset %d out of range 0..65535", t, offset)
	}
	return Address{Table: t, Offset: uint16(offset)}, nil
}

// WithBit returns a with bit n (0 is the least significant bit) of its
// register selected. Only register tables have bits; n must be 0..15.
func (a Address) WithBit(n int) (Address, error) {
	if !a.Table.Valid() {
		return a, fmt.Errorf("modbus: invalid table %v", a.Table)
	}
	if a.Table.IsBits() {
		return a, fmt.Errorf("modbus: %s: a %s is a single bit and has no bit %d (bits select one bit of a register)", a, a.Table, n)
	}
	if n < 0 || n > 15 {
		return a, fmt.Errorf("modbus: %s: bit %d out of range 0..15", a, n)
	}
	a.bit = uint8(n) + 1
	return a, nil
}

// Bit returns the selected bit of the register and true, or 0 and false
// if a selects the whole register (or a coil or discrete input).
func (a Address) Bit() (int, bool) {
	if a.bit == 0 {
		return 0, false
	}
	return int(a.bit) - 1, true
}

// String returns the canonical form "hr:100", "hr:100.3", "coil:5",
// "di:5" or "ir:5", which ParseAddress accepts.
func (a Address) String() string {
	s := a.Table.prefix() + ":" + strconv.Itoa(int(a.Offset))
	if b, ok := a.Bit(); ok {
		s += "." + strconv.Itoa(b)
	}
	return s
}

// ParseAddress parses an address in the syntax of the package
// documentation: "table:offset" with an optional ".bit", or a 5- or
// 6-digit Modicon reference (40001 = hr:0), also with an optional ".bit".
// Errors quote the text and say what is wrong with it.
func ParseAddress(s string) (Address, error) {
	a, err := parseAddress(strings.TrimSpace(s))
	if err != nil {
		return Address{}, fmt.Errorf("modbus: address %q: %w", s, err)
	}
	return a, nil
}

func parseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("empty")
	}
	body, bitText, hasBit := strings.Cut(s, ".")
	var a Address
	if tname, off, ok := strings.Cut(body, ":"); ok {
		t, err := ParseTable(tname)
		if err != nil {
			return Address{}, fmt.Errorf("unknown table %q (want coil, di, ir or hr)", tname)
		}
		n, err := parseOffset(off)
		if err != nil {
			return Address{}, err
		}
		a = Address{Table: t, Offset: uint16(n)}
	} else {
		var err error
		if a, err = parseModicon(body); err != nil {
			return Address{}, err
		}
	}
	if hasBit {
		n, err := strconv.Atoi(bitText)
		if err != nil || bitText[0] == '+' || bitText[0] == '-' {
			return Address{}, fmt.Errorf("bit %q is not a number 0..15", bitText)
		}
		if a.Table.IsBits() {
			return Address{}, fmt.Errorf("a %s is a single bit and has no bit %d (bits select one bit of a register)", a.Table, n)
		}
		if n < 0 || n > 15 {
			return Address{}, fmt.Errorf("bit %d out of range 0..15", n)
		}
		a.bit = uint8(n) + 1
	}
	return a, nil
}

func parseOffset(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("missing offset after the table")
	}
	var (
		n   uint64
		err error
	)
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		n, err = strconv.ParseUint(s[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(s, 10, 32)
	}
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("offset %s out of range 0..65535", s)
		}
		return 0, fmt.Errorf("offset %q is not a number", s)
	}
	if n >= AddressSpace {
		return 0, fmt.Errorf("offset %d out of range 0..65535", n)
	}
	return int(n), nil
}

func parseModicon(s string) (Address, error) {
	if s == "" {
		return Address{}, fmt.Errorf("missing address before the bit")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Address{}, fmt.Errorf("want table:offset (e.g. hr:100) or a 5- or 6-digit Modicon reference (e.g. 40001)")
		}
	}
	if len(s) != 5 && len(s) != 6 {
		n, _ := strconv.Atoi(s)
		return Address{}, fmt.Errorf("a bare number must be a 5- or 6-digit Modicon reference like 40001 or 400001; write hr:%d for holding register offset %d", n, n)
	}
	var t Table
	switch s[0] {
	case '0':
		t = Coil
	case '1':
		t = DiscreteInput
	case '3':
		t = InputRegister
	case '4':
		t = HoldingRegister
	default:
		return Address{}, fmt.Errorf("modbus: a Modicon reference must start with 0 (coil), 1 (discrete input), 3 (input register) or 4 (holding register), not %c", s[0])
	}
	n, _ := strconv.Atoi(s[1:])
	max := 9999
	if len(s) == 6 {
		max = AddressSpace
	}
	if n < 1 || n > max {
		return Address{}, fmt.Errorf("modbus: Modicon register number %s out of range 1..%d (references are 1-based)", s[1:], max)
	}
	return Address{Table: t, Offset: uint16(n - 1)}, nil
}
