package record

import (
	"math"

	"github.com/cabridge/cabridge/ca/dbr"
)

// ExceedsDeadband reports whether a monitor of deadband MDEL (or ADEL)
// fires when the value changes from last (MLST or ALST) to val, as
// recGblCheckDeadband decides for ai, ao and the other floating-point
// records: |last-val| > deadband for finite values; a change between a
// finite and a non-finite value, or between NaN and ±Inf, or between +Inf
// and -Inf, counts as an infinite change; NaN to NaN and Inf to the same
// Inf count as no change. A negative deadband therefore fires on every
// update, even an unchanged one, and a NaN deadband never fires. When it
// reports true the caller sets last to val.
func ExceedsDeadband(last, val, deadband float64) bool {
	var delta float64
	lastFinite := !math.IsNaN(last) && !math.IsInf(last, 0)
	valFinite := !math.IsNaN(val) && !math.IsInf(val, 0)
	switch {
	case lastFinite && valFinite:
		delta = math.Abs(last - val)
	case math.IsNaN(last) != math.IsNaN(val) || math.IsInf(last, 0) != math.IsInf(val, 0):
		delta = math.Inf(1)
	case math.IsInf(val, 0) && val != last:
		delta = math.Inf(1)
	}
	return delta > deadband
}

// ExceedsDeadbandLong is ExceedsDeadband for longin and longout, whose
// monitor() compares integers: a negative deadband fires on every update,
// otherwise the unsigned 32-bit distance |last-val| must exceed it (the
// distance of -2^31 and 2^31-1 is 2^32-1, with no overflow).
func ExceedsDeadbandLong(last, val, deadband int32) bool {
	if deadband < 0 {
		return true
	}
	var d uint32
	if last > val {
		d = uint32(last) - uint32(val)
	} else {
		d = uint32(val) - uint32(last)
	}
	return d > uint32(deadband)
}

// ClampDrive limits an ao value to the drive limits DRVL..DRVH as
// aoRecord.c convert does, but only when DRVH > DRVL; otherwise (both 0,
// the default, or inverted, or NaN) v is returned unchanged. A NaN v is
// never clamped.
func ClampDrive(v, drvh, drvl float64) float64 {
	if drvh > drvl {
		if v > drvh {
			return drvh
		} else if v < drvl {
			return drvl
		}
	}
	return v
}

// ClampDriveLong is ClampDrive for longout (longoutRecord.c convert).
func ClampDriveLong(v, drvh, drvl int32) int32 {
	if drvh > drvl {
		if v > drvh {
			return drvh
		} else if v < drvl {
			return drvl
		}
	}
	return v
}

// LimitFields are the fields from which the limits of a VAL channel's
// DBR_GR and DBR_CTRL metadata are computed. Fields a record type does not
// have are left zero.
type LimitFields struct {
	HOPR, LOPR float64 // display limits
	DRVH, DRVL float64 // drive limits (ao, longout)
	Alarm      LimitAlarm
}

// Limits returns the limits an IOC reports for the VAL field of a record of
// type rtyp (§5.3 of the CA reference):
//   - display limits: HOPR/LOPR;
//   - control limits: ao: DRVH/DRVL always; longout: DRVH/DRVL if
//     DRVH > DRVL, else HOPR/LOPR; every other type HOPR/LOPR;
//   - alarm limits (ai, ao, longin, longout): HIHI, HIGH, LOW, LOLO, each
//     replaced by NaN when its severity (HHSV, HSV, LSV, LLSV) is NO_ALARM;
//     other types have no alarm limits and report NaN.
func Limits(rtyp string, f LimitFields) dbr.Limits {
	nan := math.NaN()
	l := dbr.Limits{
		DisplayHigh: f.HOPR, DisplayLow: f.LOPR,
		ControlHigh: f.HOPR, ControlLow: f.LOPR,
		AlarmHigh: nan, WarningHigh: nan, WarningLow: nan, AlarmLow: nan,
	}
	switch rtyp {
	case "ao":
		l.ControlHigh, l.ControlLow = f.DRVH, f.DRVL
	case "longout":
		if f.DRVH > f.DRVL {
			l.ControlHigh, l.ControlLow = f.DRVH, f.DRVL
		}
	}
	switch rtyp {
	case "ai", "ao", "longin", "longout":
		a := f.Alarm
		l.AlarmHigh = limitOrNaN(a.HIHI, a.HHSV)
		l.WarningHigh = limitOrNaN(a.HIGH, a.HSV)
		l.WarningLow = limitOrNaN(a.LOW, a.LSV)
		l.AlarmLow = limitOrNaN(a.LOLO, a.LLSV)
	}
	return l
}

func limitOrNaN(v float64, s dbr.Severity) float64 {
	if s == dbr.SeverityNone {
		return math.NaN()
	}
	return v
}
