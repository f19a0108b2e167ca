package dbr

import (
	"fmt"
	"time"
)

// Severity is an EPICS alarm severity (alarm.h).
type Severity uint16

// The alarm severities.
const (
	SeverityNone    Severity = iota // NO_ALARM
	SeverityMinor                   // MINOR
	SeverityMajor                   // MAJOR
	SeverityInvalid                 // INVALID
)

//nolint:gochecknoglobals // read-only lookup table, never written
var severityNames = [...]string{"NO_ALARM", "MINOR", "MAJOR", "INVALID"}

// String returns the EPICS name of s ("NO_ALARM", "MINOR", "MAJOR", "INVALID").
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", uint16(s))
}

// SeverityNames returns the menuAlarmSevr strings in index order.
func SeverityNames() []string { return append([]string(nil), severityNames[:]...) }

// Status is an EPICS alarm status, also called alarm condition (alarm.h).
type Status uint16

// The alarm status codes 0..21.
const (
	StatusNone        Status = iota // NO_ALARM
	StatusRead                      // READ
	StatusWrite                     // WRITE
	StatusHiHi                      // HIHI
	StatusHigh                      // HIGH
	StatusLoLo                      // LOLO
	StatusLow                       // LOW
	StatusState                     // STATE
	StatusCOS                       // COS
	StatusComm                      // COMM
	StatusTimeout                   // TIMEOUT
	StatusHWLimit                   // HWLIMIT
	StatusCalc                      // CALC
	StatusScan                      // SCAN
	StatusLink                      // LINK
	StatusSoft                      // SOFT
	StatusBadSub                    // BAD_SUB
	StatusUDF                       // UDF
	StatusDisable                   // DISABLE
	StatusSimm                      // SIMM
	StatusReadAccess                // READ_ACCESS
	StatusWriteAccess               // WRITE_ACCESS
)

//nolint:gochecknoglobals // read-only lookup table, never written
var statusNames = [...]string{"NO_ALARM", "READ", "WRITE", "HIHI", "HIGH", "LOLO", "LOW", "STATE", "COS", "COMM",
	"TIMEOUT", "HWLIMIT", "CALC", "SCAN", "LINK", "SOFT", "BAD_SUB", "UDF", "DISABLE", "SIMM", "READ_ACCESS", "WRITE_ACCESS"}

// String returns the EPICS name of s, e.g. "HIHI" or "COMM".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint16(s))
}

// StatusNames returns the menuAlarmStat strings in index order.
func StatusNames() []string { return append([]string(nil), statusNames[:]...) }

// Alarm is a status and severity pair.
type Alarm struct {
	Status   Status
	Severity Severity
}

// String formats the alarm as "STATUS/SEVERITY".
func (a Alarm) String() string { return a.Status.String() + "/" + a.Severity.String() }

// EpochOffset is the number of seconds between the POSIX epoch and the
// EPICS epoch, 1990-01-01 00:00:00 UTC.
const EpochOffset = 631152000

// Timestamp is an EPICS timestamp: seconds since the EPICS epoch and
// nanoseconds. The zero Timestamp means "never set".
type Timestamp struct {
	Sec  uint32 // seconds past 1990-01-01 00:00:00 UTC
	Nsec uint32 // 0..999,999,999
}

// NewTimestamp converts t to an EPICS timestamp. Times before the EPICS
// epoch give the zero Timestamp.
func NewTimestamp(t time.Time) Timestamp {
	s := t.Unix() - EpochOffset
	if s < 0 {
		return Timestamp{}
	}
	return Timestamp{Sec: uint32(s), Nsec: uint32(t.Nanosecond())}
}

// Time converts ts to a time.Time in UTC.
func (ts Timestamp) Time() time.Time {
	return time.Unix(int64(ts.Sec)+EpochOffset, int64(ts.Nsec)).UTC()
}

// IsZero reports whether ts is the zero ("never set") timestamp.
func (ts Timestamp) IsZero() bool { return ts.Sec == 0 && ts.Nsec == 0 }

// Limits are the display, alarm and control limits of a PV, in the order
// GR/CTRL structures carry them. NaN alarm limits mean "no limit".
type Limits struct {
	DisplayHigh float64 // HOPR
	DisplayLow  float64 // LOPR
	AlarmHigh   float64 // HIHI (upper_alarm_limit)
	WarningHigh float64 // HIGH (upper_warning_limit)
	WarningLow  float64 // LOW (lower_warning_limit)
	AlarmLow    float64 // LOLO (lower_alarm_limit)
	ControlHigh float64 // DRVH (upper_ctrl_limit)
	ControlLow  float64 // DRVL (lower_ctrl_limit)
}

// Properties are the slowly changing metadata of a PV, reported by the GR
// and CTRL families and DBR_CLASS_NAME. A change of any of them is a
// DBE_PROPERTY event. A Properties value is shared between snapshots and
// must not be modified once published.
type Properties struct {
	Units       string   // engineering units; truncated to 7 bytes on the wire
	Precision   int16    // display precision (PREC); also used for number to string conversion
	Limits      Limits   // display, alarm and control limits
	EnumStrings []string // state strings of an ENUM PV, at most 16 of at most 25 bytes
	ClassName   string   // record type name for DBR_CLASS_NAME, e.g. "ai"
}

// Metadata is everything that travels with a value in a DBR structure.
type Metadata struct {
	Alarm
	Stamp      Timestamp
	AckT       bool        // alarm acknowledge transient (DBR_STSACK_STRING)
	AckS       Severity    // highest unacknowledged severity (DBR_STSACK_STRING)
	Properties *Properties // nil encodes as zero units, precision, limits and no enum strings
}
