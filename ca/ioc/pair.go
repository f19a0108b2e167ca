package ioc

// Readback says what drives the readback of a setpoint/readback pair.
type Readback uint8

// The readback modes.
const (
	// Follow copies the stored setpoint to the readback after each CA put
	// to the setpoint, once the put hook has returned.
	Follow Readback = iota
	// Device leaves the readback to the IOC code (a scan task or a
	// device callback), which sets it with Set.
	Device
)

// Pair is a setpoint PV NAME and its readback NAME_RBV.
type Pair[E any] struct {
	Setpoint *PV[E]
	Readback *PV[E]
}

// DeclarePair declares a setpoint/readback pair from one spec (caproto's
// get_pv_pair_wrapper): the setpoint NAME with declare (Double, Long, ...)
// and s, and the read-only readback NAME_RBV with the same type, initial
// value, metadata and alarm group but no hooks. If the setpoint is a
// record, the readback is the matching input record (ao → ai, longout →
// longin, bo → bi, mbbo → mbbi, stringout → stringin). mode says what drives the
// readback.
func DeclarePair[E any](g *Group, name string, declare func(*Group, string, Spec[E]) *PV[E], s Spec[E], mode Readback) Pair[E] {
	sp := declare(g, name, s)
	rs := Spec[E]{Value: s.Value, Values: s.Values, MaxLength: s.MaxLength, ReadOnly: true, Doc: s.Doc,
		Units: s.Units, Precision: s.Precision, Limits: s.Limits, EnumStrings: s.EnumStrings,
		ValueDeadband: s.ValueDeadband, ArchiveDeadband: s.ArchiveDeadband, AlarmGroup: s.AlarmGroup,
		Record: readbackRecord(s.Record)}
	rb := declare(g, name+"_RBV", rs)
	if mode == Follow {
		sp.afterPut = append(sp.afterPut, func(vs []E) {
			if err := rb.SetArray(vs); err != nil {
				g.fail(err) // cannot happen: same type and length
			}
		})
	}
	return Pair[E]{Setpoint: sp, Readback: rb}
}

// readbackRecord returns the record type of the readback of a setpoint
// of record type rtyp.
func readbackRecord(rtyp string) string {
	switch rtyp {
	case "ao":
		return "ai"
	case "longout":
		return "longin"
	case "bo":
		return "bi"
	case "mbbo":
		return "mbbi"
	case "stringout":
		return "stringin"
	}
	return rtyp
}
