package modbus

import "github.com/cabridge/cabridge/drivers"

var _ drivers.Spanner = (*driverPoint)(nil)

// Span returns the table addresses the point occupies, so that the
// mapping layer can report overlapping bindings.
func (p *driverPoint) Span() drivers.Span {
	r := p.p.Range()
	s := drivers.Span{Space: p.p.Address.Table.prefix(), Start: int(r.Start), Count: r.Count * max(1, len(p.elems)), Bit: -1}
	if b, ok := p.p.Address.Bit(); ok {
		s.Bit = b
	}
	return s
}
