package modbus

import (
	"fmt"
	"strings"

	"github.com/cabridge/cabridge/drivers"
)

// An array point (a binding with len > 1 and a numeric type) is that
// many values of its type in consecutive registers of a register table,
// e.g. 10 int16 at hr:400..409 or 4 float32 at ir:0..7: a waveform PV.
// It is read as its elements, which the planner coalesces like any other
// points (so an array longer than one request is read in several), and
// written at once with FC16.

// isStringType reports whether a type name names a string format, whose
// len is a length in characters rather than an element count.
func isStringType(name string) bool {
	return strings.Contains(strings.ToUpper(name), "STRING")
}

// makeArray turns p into an array of n elements.
func (p *driverPoint) makeArray(n int) error {
	t := p.p.Type
	if p.p.Address.Table.IsBits() {
		return fmt.Errorf("modbus: %v: arrays of coils or discrete inputs are not supported; bind one PV per bit", p.p.Address)
	}
	if _, isBit := p.p.Address.Bit(); isBit || t.Format == Bool {
		return fmt.Errorf("modbus: %v: arrays of register bits are not supported", p.p.Address)
	}
	regs := t.Registers()
	if end := int(p.p.Address.Offset) + n*regs; end > AddressSpace {
		return fmt.Errorf("modbus: %v: %d × %v need %d registers and would end at %d, past the last address %d",
			p.p.Address, n, t, n*regs, end-1, AddressSpace-1)
	}
	if p.typ.Access.CanWrite() && n*regs > MaxWriteRegisters {
		return fmt.Errorf("modbus: %v: %d × %v need %d registers, more than one write of %d allows",
			p.p.Address, n, t, n*regs, MaxWriteRegisters)
	}
	p.elems = make([]Point, n)
	for i := range n {
		e := p.p
		e.Address.Offset += uint16(i * regs)
		p.elems[i] = e
	}
	p.typ.Len = n
	return nil
}

// elements returns the points to read for p: its elements, or p itself.
func (p *driverPoint) elements() []Point {
	if p.elems != nil {
		return p.elems
	}
	return []Point{p.p}
}

// joinValues returns the values of a point's elements as one value.
func joinValues(vs []Value) drivers.Value {
	if len(vs) == 1 {
		return toDriverValue(vs[0])
	}
	out := drivers.MakeValue(drivers.Kind(vs[0].Kind()), len(vs))
	for i, v := range vs {
		switch o := out.(type) {
		case drivers.Ints:
			o[i] = v.Int()
		case drivers.Uints:
			o[i] = v.Uint()
		case drivers.Floats:
			o[i] = v.Float()
		case drivers.Strings:
			o[i] = v.Str()
		case drivers.Bools:
			o[i] = v.Bool()
		}
	}
	return out
}

// planArrayWrite encodes every element of v and writes them with one
// FC16, so that the device sees the whole array change at once.
func (p *driverPoint) planArrayWrite(v drivers.Value) (Write, error) {
	regs := make([]uint16, 0, len(p.elems)*p.p.Type.Registers())
	for i := range p.elems {
		var err error
		if regs, err = p.p.Type.Encode(regs, elementValue(v, i)); err != nil {
			return Write{}, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return Write{Function: FuncWriteMultipleRegisters, Address: p.p.Address.Offset, Registers: regs}, nil
}
