package drivers

import (
	"time"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Exporter is implemented by devices that publish PVs of the bridge to
// their peer (an MQTT broker): any PV, whichever device feeds it. The
// mapping layer subscribes to the PVs named by Exports once the device
// is running and hands every change to Export.
type Exporter interface {
	// Exports returns the names of the PVs the device publishes. It is
	// called once, after construction; the result does not change.
	Exports() []string
	// Export hands the device one update of a PV. It is called from the
	// goroutine that changed the PV, possibly concurrently for different
	// PVs, and must not block: the device queues (or coalesces) the
	// update and publishes it later. It may be called before Open and
	// after Close; the device then drops or keeps updates as it sees fit.
	Export(u Export)
}

// Export is one state of an exported PV.
type Export struct {
	PV    string    // the PV's name
	Value Value     // its value: Floats for numeric PVs, Strings for strings; enums are Ints of the index
	Enum  string    // an enum PV's state string, when known
	Time  time.Time // the PV's timestamp
	Alarm dbr.Alarm // its alarm
	Units string    // its engineering units, when it has any
}
