// Package eca holds the Channel Access status codes (caerr.h) that servers
// put in replies and clients report: ECA_NORMAL, ECA_PUTFAIL and the rest.
package eca

import (
	"errors"
	"fmt"
)

// Code is a CA status code: the message number shifted left by 3, ORed
// with a severity in the low 3 bits.
type Code uint32

// The ECA status codes a server sends or a client reports.
const (
	Normal         Code = 1
	AllocMem       Code = 48
	TooLarge       Code = 72
	Timeout        Code = 80
	BadType        Code = 114
	Internal       Code = 142
	GetFail        Code = 152
	PutFail        Code = 160
	BadCount       Code = 176
	BadStr         Code = 186
	Disconn        Code = 192
	DblChnl        Code = 200
	EvDisallow     Code = 210
	BadMonID       Code = 242
	Defunct        Code = 278
	BadMask        Code = 330
	IODone         Code = 339
	IOInProgress   Code = 347
	BadSyncGrp     Code = 354
	PutCBInProg    Code = 362
	NoRdAccess     Code = 368
	NoWtAccess     Code = 376
	Anachronism    Code = 386
	NoSearchAddr   Code = 392
	NoConvert      Code = 400
	BadChID        Code = 410
	BadFuncPtr     Code = 418
	IsAttached     Code = 424
	UnavailInServ  Code = 432
	ChanDestroy    Code = 440
	BadPriority    Code = 450
	NotThreaded    Code = 458
	Array16KClient Code = 464
	ConnSeqTmo     Code = 472
	UnrespTmo      Code = 480
)

type info struct{ name, text string }

func lookup(c Code) (info, bool) {
	switch c {
	case Normal:
		return info{"ECA_NORMAL", "normal successful completion"}, true
	case AllocMem:
		return info{"ECA_ALLOCMEM", "unable to allocate memory"}, true
	case TooLarge:
		return info{"ECA_TOLARGE", "the requested transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES"}, true
	case Timeout:
		return info{"ECA_TIMEOUT", "user specified timeout on IO operation expired"}, true
	case BadType:
		return info{"ECA_BADTYPE", "the data type specified is invalid"}, true
	case Internal:
		return info{"ECA_INTERNAL", "channel access internal failure"}, true
	case GetFail:
		return info{"ECA_GETFAIL", "could not perform a database value get for that channel"}, true
	case PutFail:
		return info{"ECA_PUTFAIL", "could not perform a database value put for that channel"}, true
	case BadCount:
		return info{"ECA_BADCOUNT", "invalid element count requested"}, true
	case BadStr:
		return info{"ECA_BADSTR", "invalid string"}, true
	case Disconn:
		return info{"ECA_DISCONN", "virtual circuit disconnect"}, true
	case DblChnl:
		return info{"ECA_DBLCHNL", "identical process variable names on multiple servers"}, true
	case EvDisallow:
		return info{"ECA_EVDISALLOW", "request inappropriate within subscription (monitor) update callback"}, true
	case BadMonID:
		return info{"ECA_BADMONID", "bad event subscription (monitor) identifier"}, true
	case Defunct:
		return info{"ECA_DEFUNCT", "remote channel has new network address or client is too old"}, true
	case BadMask:
		return info{"ECA_BADMASK", "invalid event selection mask"}, true
	case IODone:
		return info{"ECA_IODONE", "IO operations have completed"}, true
	case IOInProgress:
		return info{"ECA_IOINPROGRESS", "IO operations are in progress"}, true
	case BadSyncGrp:
		return info{"ECA_BADSYNCGRP", "invalid synchronous group identifier"}, true
	case PutCBInProg:
		return info{"ECA_PUTCBINPROG", "put callback timed out or is still in progress"}, true
	case NoRdAccess:
		return info{"ECA_NORDACCESS", "read access denied"}, true
	case NoWtAccess:
		return info{"ECA_NOWTACCESS", "write access denied"}, true
	case Anachronism:
		return info{"ECA_ANACHRONISM", "requested feature is no longer supported"}, true
	case NoSearchAddr:
		return info{"ECA_NOSEARCHADDR", "empty PV search address list"}, true
	case NoConvert:
		return info{"ECA_NOCONVERT", "no reasonable data conversion between client and server types"}, true
	case BadChID:
		return info{"ECA_BADCHID", "invalid channel identifier"}, true
	case BadFuncPtr:
		return info{"ECA_BADFUNCPTR", "invalid function pointer"}, true
	case IsAttached:
		return info{"ECA_ISATTACHED", "thread is already attached to a client context"}, true
	case UnavailInServ:
		return info{"ECA_UNAVAILINSERV", "not supported by attached service"}, true
	case ChanDestroy:
		return info{"ECA_CHANDESTROY", "user destroyed channel"}, true
	case BadPriority:
		return info{"ECA_BADPRIORITY", "invalid channel priority"}, true
	case NotThreaded:
		return info{"ECA_NOTTHREADED", "preemptive callback not enabled"}, true
	case Array16KClient:
		return info{"ECA_16KARRAYCLIENT", "client's protocol revision does not support transfers exceeding 16k bytes"}, true
	case ConnSeqTmo:
		return info{"ECA_CONNSEQTMO", "virtual circuit connection sequence aborted"}, true
	case UnrespTmo:
		return info{"ECA_UNRESPTMO", "virtual circuit unresponsive"}, true
	}
	return info{}, false
}

// Name returns the EPICS name of c, e.g. "ECA_PUTFAIL".
func (c Code) Name() string {
	if i, ok := lookup(c); ok {
		return i.name
	}
	return fmt.Sprintf("ECA(%d)", uint32(c))
}

// String returns the message text of c.
func (c Code) String() string {
	if i, ok := lookup(c); ok {
		return i.text
	}
	return fmt.Sprintf("unknown CA status %d", uint32(c))
}

// OK reports whether c has a success severity (the low 3 bits are 1 or 3).
func (c Code) OK() bool { s := c & 7; return s == 1 || s == 3 }

// Error is an error carrying a CA status code.
type Error struct {
	Code Code
	Msg  string // detail, may be empty
}

// Error returns the code's name, its text and the detail.
func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code.Name() + ": " + e.Code.String()
	}
	return e.Code.Name() + ": " + e.Msg
}

// Errorf returns an *Error with code c and a formatted detail.
func Errorf(c Code, format string, args ...any) error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// Of returns the CA status carried by err (an *Error or an error with an
// ECA() Code method anywhere in its chain), or dflt if there is none.
func Of(err error, dflt Code) Code {
	if err == nil {
		return Normal
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var c interface{ ECA() Code }
	if errors.As(err, &c) {
		return c.ECA()
	}
	return dflt
}
