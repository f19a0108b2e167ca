package ioc

import (
	"sync"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Alarmed is something whose alarm a scan task sets when it fails: a *PV
// of any element type or an *AlarmGroup.
type Alarmed interface {
	SetAlarm(a dbr.Alarm)
	Alarm() dbr.Alarm
}

// ownAlarm is implemented by *PV: it sets the PV's own alarm, bypassing
// its alarm group.
type ownAlarm interface {
	setOwnAlarm(a dbr.Alarm)
}

// AlarmGroup is an alarm state shared by several PVs: each PV whose Spec
// names the group reports the group's alarm, and setting it updates all of
// them, raising DBE_ALARM on each PV whose alarm changed. Declare the PVs
// with Spec.AlarmGroup; the zero AlarmGroup is ready to use. It is safe
// for concurrent use.
type AlarmGroup struct {
	mu      sync.Mutex
	alarm   dbr.Alarm
	members []ownAlarm
}

// Interface guards.
var (
	_ Alarmed  = (*AlarmGroup)(nil)
	_ Alarmed  = (*PV[float64])(nil)
	_ ownAlarm = (*PV[float64])(nil)
)

// add makes p a member with the group's current alarm.
func (g *AlarmGroup) add(p ownAlarm) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members = append(g.members, p)
	if g.alarm != (dbr.Alarm{}) {
		p.setOwnAlarm(g.alarm)
	}
}

// Set sets the alarm of every member PV. Members are updated in
// declaration order while the group's lock is held, so concurrent Sets
// leave all members with the same alarm.
func (g *AlarmGroup) Set(a dbr.Alarm) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.alarm = a
	for _, m := range g.members {
		m.setOwnAlarm(a)
	}
}

// SetAlarm is Set; it implements Alarmed.
func (g *AlarmGroup) SetAlarm(a dbr.Alarm) { g.Set(a) }

// Alarm returns the group's alarm.
func (g *AlarmGroup) Alarm() dbr.Alarm {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.alarm
}
