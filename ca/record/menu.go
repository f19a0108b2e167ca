package record

import (
	"fmt"
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Menu identifies a database menu: the fixed list of choice strings of a
// DBF_MENU field, which Channel Access serves as DBR_ENUM with those strings
// as the enum states.
type Menu uint8

// The menus used by the field tables. MenuNone marks a field that is not a
// menu field.
const (
	MenuNone      Menu = iota // not a menu field
	MenuScan                  // menuScan: SCAN
	MenuAlarmSevr             // menuAlarmSevr: SEVR, HHSV, ZSV, ...
	MenuAlarmStat             // menuAlarmStat: STAT, NSTA
	MenuYesNo                 // menuYesNo: ACKT
	MenuPriority              // menuPriority: PRIO
	MenuOmsl                  // menuOmsl: OMSL of output records
	MenuIvoa                  // menuIvoa: IVOA of output records
	MenuFtype                 // menuFtype: FTVL of waveform
	MenuPost                  // the "On Change"/"Always" menus (stringinPOST, stringoutPOST, waveformPOST)
)

//nolint:gochecknoglobals // read-only lookup table, never written
var menuNames = [...]string{"", "menuScan", "menuAlarmSevr", "menuAlarmStat", "menuYesNo", "menuPriority",
	"menuOmsl", "menuIvoa", "menuFtype", "menuPost"}

//nolint:gochecknoglobals // read-only lookup table, never written
var menuChoices = [...][]string{
	MenuScan: {"Passive", "Event", "I/O Intr", "10 second", "5 second", "2 second", "1 second",
		".5 second", ".2 second", ".1 second"},
	MenuYesNo:    {"NO", "YES"},
	MenuPriority: {"LOW", "MEDIUM", "HIGH"},
	MenuOmsl:     {"supervisory", "closed_loop"},
	MenuIvoa:     {"Continue normally", "Don't drive outputs", "Set output to IVOV"},
	MenuFtype: {"STRING", "CHAR", "UCHAR", "SHORT", "USHORT", "LONG", "ULONG", "INT64", "UINT64",
		"FLOAT", "DOUBLE", "ENUM"},
	MenuPost: {"On Change", "Always"},
}

// String returns the menu's database name, e.g. "menuScan".
func (m Menu) String() string {
	if int(m) < len(menuNames) && m != MenuNone {
		return menuNames[m]
	}
	if m == MenuNone {
		return "none"
	}
	return fmt.Sprintf("Menu(%d)", uint8(m))
}

// Choices returns a fresh copy of the menu's choice strings in index
// order, or nil for MenuNone and unknown menus. menuAlarmSevr and
// menuAlarmStat are the names of dbr.Severity and dbr.Status.
func (m Menu) Choices() []string {
	switch m {
	case MenuAlarmSevr:
		return dbr.SeverityNames()
	case MenuAlarmStat:
		return dbr.StatusNames()
	}
	if int(m) < len(menuChoices) {
		return append([]string(nil), menuChoices[m]...)
	}
	return nil
}

// Len returns the number of choices of m.
func (m Menu) Len() int {
	switch m {
	case MenuAlarmSevr:
		return len(dbr.SeverityNames())
	case MenuAlarmStat:
		return len(dbr.StatusNames())
	}
	if int(m) < len(menuChoices) {
		return len(menuChoices[m])
	}
	return 0
}

// Index returns the index of choice in m. The match is exact and
// case-sensitive, as an IOC matches enum strings on a put.
func (m Menu) Index(choice string) (uint16, bool) {
	for i, c := range m.Choices() {
		if c == choice {
			return uint16(i), true
		}
	}
	return 0, false
}

// Scan is an index into menuScan, the value of a record's SCAN field.
type Scan uint16

// The menuScan choices.
const (
	ScanPassive Scan = iota // "Passive": processed only when asked (put, PROC, links)
	ScanEvent               // "Event": processed on a named database event
	ScanIOIntr              // "I/O Intr": processed when the device signals new data
	Scan10s                 // "10 second"
	Scan5s                  // "5 second"
	Scan2s                  // "2 second"
	Scan1s                  // "1 second"
	Scan500ms               // ".5 second"
	Scan200ms               // ".2 second"
	Scan100ms               // ".1 second"
)

//nolint:gochecknoglobals // read-only lookup table, never written
var scanPeriods = [...]time.Duration{
	Scan10s:   10 * time.Second,
	Scan5s:    5 * time.Second,
	Scan2s:    2 * time.Second,
	Scan1s:    time.Second,
	Scan500ms: 500 * time.Millisecond,
	Scan200ms: 200 * time.Millisecond,
	Scan100ms: 100 * time.Millisecond,
}

// String returns the menuScan choice string of s, e.g. ".5 second".
func (s Scan) String() string {
	if int(s) < len(menuChoices[MenuScan]) {
		return menuChoices[MenuScan][s]
	}
	return fmt.Sprintf("Scan(%d)", uint16(s))
}

// Period returns the scan period of s: 0 for Passive, Event, I/O Intr and
// indices outside the menu, which are not periodic.
func (s Scan) Period() time.Duration {
	if int(s) < len(scanPeriods) {
		return scanPeriods[s]
	}
	return 0
}

// Periodic reports whether s is one of the periodic choices.
func (s Scan) Periodic() bool { return s.Period() > 0 }

// ScanForPeriod returns the menuScan choice whose period is exactly d. It
// reports false when no choice has that period (d <= 0 included); an IOC
// has no scan rates besides those of its menuScan.
func ScanForPeriod(d time.Duration) (Scan, bool) {
	if d <= 0 {
		return ScanPassive, false
	}
	for i, p := range scanPeriods {
		if p == d {
			return Scan(i), true
		}
	}
	return ScanPassive, false
}
