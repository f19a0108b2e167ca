package record

import (
	"fmt"

	"github.com/cabridge/cabridge/ca/dbr"
)

// DBF is a database field type (dbFldTypes.h), the type a field has inside
// an IOC. Channel Access serves each field in the DBR type CAType returns.
type DBF uint8

// The database field types.
const (
	DBFString   DBF = iota // DBF_STRING: fixed-size text, NUL included in the size
	DBFChar                // DBF_CHAR
	DBFUChar               // DBF_UCHAR
	DBFShort               // DBF_SHORT
	DBFUShort              // DBF_USHORT
	DBFLong                // DBF_LONG
	DBFULong               // DBF_ULONG
	DBFInt64               // DBF_INT64
	DBFUInt64              // DBF_UINT64
	DBFFloat               // DBF_FLOAT
	DBFDouble              // DBF_DOUBLE
	DBFEnum                // DBF_ENUM: states defined by the record (bi/bo/mbbi/mbbo VAL)
	DBFMenu                // DBF_MENU: states from a database menu
	DBFDevice              // DBF_DEVICE: DTYP
	DBFInLink              // DBF_INLINK
	DBFOutLink             // DBF_OUTLINK
	DBFFwdLink             // DBF_FWDLINK
	DBFNoAccess            // DBF_NOACCESS: not served as such (waveform VAL: its type comes from FTVL)
)

//nolint:gochecknoglobals // read-only lookup table, never written
var dbfNames = [...]string{"DBF_STRING", "DBF_CHAR", "DBF_UCHAR", "DBF_SHORT", "DBF_USHORT", "DBF_LONG",
	"DBF_ULONG", "DBF_INT64", "DBF_UINT64", "DBF_FLOAT", "DBF_DOUBLE", "DBF_ENUM", "DBF_MENU", "DBF_DEVICE",
	"DBF_INLINK", "DBF_OUTLINK", "DBF_FWDLINK", "DBF_NOACCESS"}

// String returns the C name of d, e.g. "DBF_ULONG".
func (d DBF) String() string {
	if int(d) < len(dbfNames) {
		return dbfNames[d]
	}
	return fmt.Sprintf("DBF(%d)", uint8(d))
}

// IsLink reports whether d is one of the link types, whose "$" form is a
// long string.
func (d DBF) IsLink() bool { return d == DBFInLink || d == DBFOutLink || d == DBFFwdLink }

// CAType returns the plain DBR type an IOC serves a field of type d in
// (db_convert.h dbDBRnewToDBRold): CHAR and UCHAR → CHAR; USHORT → LONG;
// ULONG, INT64 and UINT64 → DOUBLE; ENUM, MENU and DEVICE → ENUM; links →
// STRING. DBFNoAccess has no CA type and reports false.
func (d DBF) CAType() (dbr.Type, bool) {
	switch d {
	case DBFString, DBFInLink, DBFOutLink, DBFFwdLink:
		return dbr.String, true
	case DBFChar, DBFUChar:
		return dbr.Char, true
	case DBFShort:
		return dbr.Short, true
	case DBFUShort, DBFLong:
		return dbr.Long, true
	case DBFULong, DBFInt64, DBFUInt64, DBFDouble:
		return dbr.Double, true
	case DBFFloat:
		return dbr.Float, true
	case DBFEnum, DBFMenu, DBFDevice:
		return dbr.Enum, true
	}
	return 0, false
}
