package record

import "github.com/cabridge/cabridge/ca/dbr"

// Raise merges a new alarm into the alarm pending for the current
// processing (NSTA/NSEV) as recGblSetSevr does: the new alarm replaces the
// pending one only if its severity is strictly higher. It reports whether
// it did.
func Raise(pending, a dbr.Alarm) (dbr.Alarm, bool) {
	if a.Severity > pending.Severity {
		return a, true
	}
	return pending, false
}

// LimitAlarm holds the limit-alarm fields of an ai or ao record: the limits
// HIHI, HIGH, LOW and LOLO, their severities HHSV, HSV, LSV and LLSV, and
// the hysteresis HYST. A limit whose severity is NO_ALARM is not checked.
type LimitAlarm struct {
	HIHI, HIGH, LOW, LOLO float64
	HHSV, HSV, LSV, LLSV  dbr.Severity
	HYST                  float64
}

// LongLimitAlarm is LimitAlarm for longin and longout, whose limits and
// hysteresis are DBF_LONG and whose comparisons use 32-bit integer
// arithmetic (HIHI-HYST wraps as it does in the IOC).
type LongLimitAlarm struct {
	HIHI, HIGH, LOW, LOLO int32
	HHSV, HSV, LSV, LLSV  dbr.Severity
	HYST                  int32
}

// AlarmInput is the record state the limit-alarm check reads.
type AlarmInput[T float64 | int32] struct {
	// VAL is the value just read or written.
	VAL T
	// LALM is the last alarmed value: the limit of the alarm last raised,
	// or the value when the last check found no limit alarm. An IOC
	// initialises it to VAL.
	LALM T
	// UDF is set while the value is undefined. An ai sets it to
	// isnan(VAL) after a successful read; longin and the output records
	// clear it once a value has been read or written.
	UDF bool
	// UDFS is the severity of the UDF alarm (an IOC's default is INVALID).
	UDFS dbr.Severity
	// Pending is the alarm already raised during this processing
	// (NSTA/NSEV), e.g. a READ or LINK alarm; zero if none.
	Pending dbr.Alarm
}

// Check computes the limit alarm as aiRecord.c and aoRecord.c checkAlarms
// do (without the AFTC alarm filter) and returns the new pending alarm
// (NSTA/NSEV) and the new LALM.
//
// If UDF is set, a UDF alarm of severity UDFS is raised and LALM is left
// alone. Otherwise the limits are tried in the order HIHI, LOLO, HIGH,
// LOW; the first whose severity is not NO_ALARM and which VAL reaches
// (VAL >= HIHI, VAL <= LOLO, ...) wins. Hysteresis holds an alarm: a limit
// equal to LALM also matches while VAL is within HYST of it (VAL >= HIHI-HYST
// for the upper limits, VAL <= LOLO+HYST for the lower ones). A matching
// limit is raised with Raise and, only if it won against Pending, becomes
// the new LALM. When no limit matches, LALM becomes VAL. NaN limits never
// match; a NaN VAL matches nothing and leaves LALM NaN.
func (l LimitAlarm) Check(in AlarmInput[float64]) (dbr.Alarm, float64) {
	return checkLimits(in, [4]limit[float64]{
		{l.HIHI, l.HHSV, dbr.StatusHiHi, true},
		{l.LOLO, l.LLSV, dbr.StatusLoLo, false},
		{l.HIGH, l.HSV, dbr.StatusHigh, true},
		{l.LOW, l.LSV, dbr.StatusLow, false},
	}, l.HYST)
}

// Check computes the limit alarm as longinRecord.c and longoutRecord.c
// checkAlarms do; see LimitAlarm.Check. Arithmetic is on int32 and wraps.
func (l LongLimitAlarm) Check(in AlarmInput[int32]) (dbr.Alarm, int32) {
	return checkLimits(in, [4]limit[int32]{
		{l.HIHI, l.HHSV, dbr.StatusHiHi, true},
		{l.LOLO, l.LLSV, dbr.StatusLoLo, false},
		{l.HIGH, l.HSV, dbr.StatusHigh, true},
		{l.LOW, l.LSV, dbr.StatusLow, false},
	}, l.HYST)
}

type limit[T float64 | int32] struct {
	level T
	sevr  dbr.Severity
	stat  dbr.Status
	upper bool
}

func checkLimits[T float64 | int32](in AlarmInput[T], limits [4]limit[T], hyst T) (dbr.Alarm, T) {
	if in.UDF {
		a, _ := Raise(in.Pending, dbr.Alarm{Status: dbr.StatusUDF, Severity: in.UDFS})
		return a, in.LALM
	}
	val, lalm := in.VAL, in.LALM
	for _, l := range limits {
		if l.sevr == dbr.SeverityNone {
			continue
		}
		var hit bool
		if l.upper {
			hit = val >= l.level || lalm == l.level && val >= l.level-hyst
		} else {
			hit = val <= l.level || lalm == l.level && val <= l.level+hyst
		}
		if !hit {
			continue
		}
		a, raised := Raise(in.Pending, dbr.Alarm{Status: l.stat, Severity: l.sevr})
		if raised {
			lalm = l.level
		}
		return a, lalm
	}
	return in.Pending, val
}
