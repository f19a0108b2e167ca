package ca

import (
	"context"
	"errors"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// Snapshot is one published state of a PV: its value and the metadata
// that goes with it. A Snapshot is immutable once published; readers may
// keep it as long as they like.
type Snapshot struct {
	Value dbr.Value
	Meta  dbr.Metadata
}

// Access is a set of CA access rights.
type Access uint8

// The access rights bits, as in the ACCESS_RIGHTS message.
const (
	AccessRead  Access = 1
	AccessWrite Access = 2
	ReadWrite          = AccessRead | AccessWrite
)

// PV is what the server serves under one name. The typed containers
// (Double, Float, Long, Short, Char, Byte, Enum, String) implement it;
// other implementations (record fields, computed PVs) may too. All methods
// are safe for concurrent use. A PV may also implement Acknowledger to
// accept DBR_PUT_ACKT and DBR_PUT_ACKS writes.
type PV interface {
	// Native returns the native plain DBR type (dbr.String..dbr.Double) and
	// the maximum element count, which CREATE_CHAN reports. Both are fixed
	// for the PV's lifetime.
	Native() (dbr.Type, int)
	// Access returns the rights every client has on the PV.
	Access() Access
	// Snapshot returns the current state. It never returns nil and never
	// blocks on I/O.
	Snapshot() *Snapshot
	// Put writes v, a decoded value of any plain DBR type, converting it to
	// the native type. It returns an error that eca.Of maps to the status the
	// client gets: ErrReadOnly (ECA_NOWTACCESS), ErrInvalid, conversion
	// errors (ECA_PUTFAIL). A rejected put changes nothing. Put returns when
	// the write has completed.
	Put(ctx context.Context, v dbr.Value) error
	// Subscribe registers s to receive each new snapshot together with the
	// event bits it raised (value beyond MDEL, log beyond ADEL, alarm,
	// property). It returns a function that removes s; after it returns, s
	// gets no more updates.
	Subscribe(s Subscriber) (cancel func())
}

// Subscriber receives the updates of a PV. Update is called from the
// goroutine that changed the PV, once per change, in order; it must not
// block and must not call back into the PV.
type Subscriber interface {
	Update(s *Snapshot, events dbr.EventMask)
}

// Errors a PV's Put returns. Each maps to the CA status a client sees.
var (
	// ErrReadOnly rejects a put to a read-only PV (ECA_NOWTACCESS).
	ErrReadOnly = &eca.Error{Code: eca.NoWtAccess, Msg: "ca: PV is read-only"}
	// ErrInvalid rejects a value the PV cannot take: out of enum range, a
	// string or array too long (ECA_PUTFAIL). Wrap it with the details.
	ErrInvalid = errors.New("ca: invalid value")
)

// Reader is an optional interface of a PV whose value is computed when a
// client reads it (caproto's getter). For each READ_NOTIFY and READ on a
// channel of a Reader, the server calls Read instead of Snapshot, on the
// circuit's put worker and without holding any circuit lock, so a slow
// Read delays only that client, and reads and puts on one channel are
// answered in the order they arrived. ctx is cancelled when the circuit
// closes. A Read error gives the client the status eca.Of maps it to
// (ECA_GETFAIL by default); a panic in Read is recovered, logged and
// answered with ECA_GETFAIL. Monitors and the initial update of a new
// subscription still use Snapshot.
type Reader interface {
	Read(ctx context.Context) (*Snapshot, error)
}
