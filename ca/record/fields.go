package record

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/cabridge/cabridge/ca/dbr"
)

// Errors returned when a channel name or a field cannot be resolved. A
// server answers all of them as an IOC does for an unknown name: no search
// reply and CREATE_CH_FAIL.
var (
	// ErrInvalidName reports a name that dbChannel would not parse: an empty
	// record part, a field part that is not an identifier, or text after
	// the field that is neither "$" nor a filter or slice.
	ErrInvalidName = errors.New("record: invalid channel name")
	// ErrNotSupported reports an array slice "[...]" or a JSON channel
	// filter "{...}" after the field, which IOCs accept and this package
	// does not support yet.
	ErrNotSupported = errors.New("record: channel filters and array slices are not supported")
	// ErrFieldNotFound reports a field the record type does not have.
	ErrFieldNotFound = errors.New("record: no such field")
	// ErrNoDollar reports a "$" suffix on a field that is neither a string
	// nor a link field.
	ErrNoDollar = errors.New(`record: "$" applies only to string and link fields`)
)

// LinkStringSize is the element count of the "$" form of a link field
// (PVLINK_STRINGSZ in R7; older IOCs used 73).
const LinkStringSize = 1024

// StringSize is the storage size of a DBR_STRING (MAX_STRING_SIZE), the size
// of the record-type attribute RTYP and of stringin/stringout VAL.
const StringSize = 40

// Access says how an IOC's CA server treats writes to a field.
type Access uint8

// The access classes.
const (
	// ReadWrite fields are reported writable and accept puts.
	ReadWrite Access = iota
	// ReadOnly fields are declared special(SPC_NOMOD): rsrv reports them
	// without write access (rsrvCheckPut) and refuses puts with
	// ECA_NOWTACCESS.
	ReadOnly
	// WriteFails fields are reported writable but every put fails with
	// ECA_PUTFAIL (S_db_noMod). Only RTYP, a record-type attribute, is of
	// this kind.
	WriteFails
)

//nolint:gochecknoglobals // read-only lookup table, never written
var accessNames = [...]string{"read-write", "read-only", "write-fails"}

// String returns "read-write", "read-only" or "write-fails".
func (a Access) String() string {
	if int(a) < len(accessNames) {
		return accessNames[a]
	}
	return fmt.Sprintf("Access(%d)", uint8(a))
}

// Writable reports whether a server announces write access for the field
// in ACCESS_RIGHTS (before access security rules apply).
func (a Access) Writable() bool { return a != ReadOnly }

// Field describes one field of a record type as an IOC serves it.
type Field struct {
	// Name is the field name, upper case, e.g. "DESC".
	Name string
	// DBF is the database field type. For VAL it is the type a record of
	// this type has by default; the VAL of a waveform has DBFNoAccess
	// because its type comes from FTVL.
	DBF DBF
	// Size is the storage size of a DBFString field including its NUL
	// (DESC 41, NAME 61, EGU 16); 0 for other types.
	Size int
	// Menu is the menu of a DBFMenu field, MenuNone otherwise. The states
	// of a DBFEnum VAL are the record's own (ZNAM/ONAM, ZRST..FFST).
	Menu Menu
	// Access says whether puts are accepted.
	Access Access
	// Property is set for fields declared prop(YES): a change of them
	// changes VAL's DBR_GR/DBR_CTRL metadata and posts DBE_PROPERTY on VAL.
	Property bool
}

// Native reports whether f is VAL, whose CA type and count are those of the
// PV's own value rather than fixed by the table.
func (f Field) Native() bool { return f.Name == "VAL" }

// Dollar reports whether f may be opened with the "$" suffix: string fields
// (as a CHAR array of Size elements) and link fields (LinkStringSize).
func (f Field) Dollar() bool { return f.DBF == DBFString || f.DBF.IsLink() }

// Channel returns the native DBR type and element count an IOC reports in
// the CREATE_CHAN reply for f, or for f's "$" form when dollar is set. It
// fails with ErrNoDollar when "$" does not apply, and with
// ErrFieldNotFound for a DBFNoAccess field (the waveform VAL, whose type
// the caller knows from the PV).
func (f Field) Channel(dollar bool) (dbr.Type, int, error) {
	if dollar {
		switch {
		case f.DBF == DBFString:
			return dbr.Char, f.Size, nil
		case f.DBF.IsLink():
			return dbr.Char, LinkStringSize, nil
		}
		return 0, 0, fmt.Errorf("%w: %s is %s", ErrNoDollar, f.Name, f.DBF)
	}
	t, ok := f.DBF.CAType()
	if !ok {
		return 0, 0, fmt.Errorf("%w: %s is %s", ErrFieldNotFound, f.Name, f.DBF)
	}
	return t, 1, nil
}

// RecordType is the field table of one record type. RecordType values are
// immutable and safe for concurrent use.
type RecordType struct {
	name   string
	fields []Field // sorted by name
}

// Name returns the record type name, as served by RTYP and DBR_CLASS_NAME.
func (t *RecordType) Name() string { return t.name }

// Fields returns a copy of the field table, sorted by field name.
func (t *RecordType) Fields() []Field { return slices.Clone(t.fields) }

// Field returns the field called name. Field names are case-sensitive, as
// in an IOC: "desc" is not found.
func (t *RecordType) Field(name string) (Field, bool) {
	i, ok := slices.BinarySearchFunc(t.fields, name, func(f Field, n string) int { return cmp.Compare(f.Name, n) })
	if !ok {
		return Field{}, false
	}
	return t.fields[i], true
}

// Channel is a field resolved from a channel name.
type Channel struct {
	Field  Field    // the field
	Dollar bool     // opened with the "$" suffix: a CHAR array
	Type   dbr.Type // native DBR type; meaningless if Field.Native() and !Dollar
	Count  int      // native element count; 0 if Field.Native() and !Dollar
}

// Resolve looks up field (as returned by SplitName) and applies the "$"
// suffix. VAL resolves even for a waveform: for VAL without "$" the caller
// takes the type and count from the PV (Type and Count are then only the
// defaults of an IOC record of this type, Count 0 for a waveform).
func (t *RecordType) Resolve(field string, dollar bool) (Channel, error) {
	f, ok := t.Field(field)
	if !ok {
		return Channel{}, fmt.Errorf("%w: %s.%s", ErrFieldNotFound, t.name, field)
	}
	c := Channel{Field: f, Dollar: dollar}
	typ, n, err := f.Channel(dollar)
	switch {
	case err == nil:
		c.Type, c.Count = typ, n
	case f.Native() && !dollar:
		// waveform VAL: the PV decides
	default:
		return Channel{}, err
	}
	return c, nil
}

// TypeNames returns the names of the record types this package describes,
// sorted.
func TypeNames() []string {
	names := make([]string, 0, len(recordTypes))
	for _, t := range recordTypes {
		names = append(names, t.name)
	}
	slices.Sort(names)
	return names
}

// LookupType returns the record type called name ("ai", "waveform", ...).
func LookupType(name string) (*RecordType, bool) {
	for _, t := range recordTypes {
		if t.name == name {
			return t, true
		}
	}
	return nil, false
}

//nolint:gochecknoglobals // read-only tables, built once and never written
var recordTypes = buildTypes()

// Table construction helpers.

func fld(name string, d DBF) Field    { return Field{Name: name, DBF: d} }
func str(name string, size int) Field { return Field{Name: name, DBF: DBFString, Size: size} }
func mnu(name string, m Menu) Field   { return Field{Name: name, DBF: DBFMenu, Menu: m} }
func ro(f Field) Field                { f.Access = ReadOnly; return f }
func prop(f Field) Field              { f.Property = true; return f }
func fields(fs ...[]Field) []Field    { return slices.Concat(fs...) }
func names(d DBF, ns ...string) []Field {
	return mapNames(ns, func(n string) Field { return fld(n, d) })
}
func propNames(d DBF, ns ...string) []Field {
	return mapNames(ns, func(n string) Field { return prop(fld(n, d)) })
}

func mapNames(ns []string, mk func(string) Field) []Field {
	out := make([]Field, len(ns))
	for i, n := range ns {
		out[i] = mk(n)
	}
	return out
}

// commonFields are the dbCommon fields (dbCommon.dbd) served here, plus
// the RTYP attribute.
func commonFields() []Field {
	return []Field{
		ro(str("NAME", 61)),
		str("DESC", 41),
		ro(str("ASG", 29)), // read-only here: a group change at run time is not supported
		mnu("SCAN", MenuScan),
		fld("PHAS", DBFShort),
		str("EVNT", 40),
		fld("TSE", DBFShort),
		fld("TSEL", DBFInLink),
		fld("DISV", DBFShort),
		fld("DISA", DBFShort),
		fld("SDIS", DBFInLink),
		fld("DISP", DBFUChar),
		fld("PROC", DBFUChar),
		ro(mnu("STAT", MenuAlarmStat)),
		ro(mnu("SEVR", MenuAlarmSevr)),
		ro(str("AMSG", 40)),
		ro(mnu("NSTA", MenuAlarmStat)),
		ro(mnu("NSEV", MenuAlarmSevr)),
		ro(str("NAMSG", 40)),
		ro(mnu("ACKS", MenuAlarmSevr)),
		ro(mnu("ACKT", MenuYesNo)),
		mnu("DISS", MenuAlarmSevr),
		ro(fld("LCNT", DBFUChar)),
		ro(fld("PACT", DBFUChar)),
		ro(fld("PUTF", DBFUChar)),
		ro(fld("RPRO", DBFUChar)),
		mnu("PRIO", MenuPriority),
		fld("TPRO", DBFUChar),
		fld("UDF", DBFUChar),
		mnu("UDFS", MenuAlarmSevr),
		fld("FLNK", DBFFwdLink),
		{Name: "RTYP", DBF: DBFString, Size: StringSize, Access: WriteFails},
	}
}

// limitAlarmFields are the analog alarm fields of ai, ao, longin and
// longout; d is DBF_DOUBLE or DBF_LONG.
func limitAlarmFields(d DBF) []Field {
	return fields(
		propNames(d, "HOPR", "LOPR", "HIHI", "HIGH", "LOW", "LOLO"),
		[]Field{
			mnu("HHSV", MenuAlarmSevr), mnu("HSV", MenuAlarmSevr),
			mnu("LSV", MenuAlarmSevr), mnu("LLSV", MenuAlarmSevr),
			fld("HYST", d), fld("ADEL", d), fld("MDEL", d),
			ro(fld("LALM", d)), ro(fld("ALST", d)), ro(fld("MLST", d)),
			fld("AFTC", DBFDouble), ro(fld("AFVL", DBFDouble)),
			prop(str("EGU", 16)),
		})
}

// outputFields are DOL, OMSL and IVOA of output records; ivov is the type
// of IVOV (0 size unless a string).
func outputFields(ivov Field) []Field {
	return []Field{fld("OUT", DBFOutLink), fld("DOL", DBFInLink), mnu("OMSL", MenuOmsl),
		mnu("IVOA", MenuIvoa), ivov}
}

// stateNames returns the mbbi/mbbo state string, value and severity field
// names for states 0..15.
func stateNames(suffix string) []string {
	prefixes := []string{"ZR", "ON", "TW", "TH", "FR", "FV", "SX", "SV", "EI", "NI", "TE", "EL", "TV", "TT", "FT", "FF"}
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + suffix
	}
	return out
}

func mbbFields() []Field {
	return fields(
		[]Field{fld("VAL", DBFEnum), ro(fld("NOBT", DBFUShort)), mnu("UNSV", MenuAlarmSevr),
			mnu("COSV", MenuAlarmSevr), fld("RVAL", DBFULong), ro(fld("MASK", DBFULong)), fld("SHFT", DBFUShort),
			ro(fld("LALM", DBFUShort)), ro(fld("MLST", DBFUShort)), fld("AFTC", DBFDouble)},
		mapNames(stateNames("ST"), func(n string) Field { return prop(str(n, 26)) }),
		names(DBFULong, stateNames("VL")...),
		mapNames(stateNames("SV"), func(n string) Field { return mnu(n, MenuAlarmSevr) }),
	)
}

func binaryFields() []Field {
	return []Field{fld("VAL", DBFEnum), prop(str("ZNAM", 26)), prop(str("ONAM", 26)),
		mnu("ZSV", MenuAlarmSevr), mnu("OSV", MenuAlarmSevr), mnu("COSV", MenuAlarmSevr),
		fld("RVAL", DBFULong), ro(fld("MASK", DBFULong)), ro(fld("LALM", DBFUShort)), ro(fld("MLST", DBFUShort))}
}

func stringFields() []Field {
	return []Field{str("VAL", StringSize), ro(str("OVAL", StringSize)), mnu("MPST", MenuPost), mnu("APST", MenuPost)}
}

func buildTypes() []*RecordType {
	defs := map[string][]Field{
		"ai": fields(limitAlarmFields(DBFDouble), []Field{fld("VAL", DBFDouble), fld("INP", DBFInLink),
			prop(fld("PREC", DBFShort)), fld("RVAL", DBFLong)}),
		"ao": fields(limitAlarmFields(DBFDouble), outputFields(fld("IVOV", DBFDouble)),
			propNames(DBFDouble, "DRVH", "DRVL"),
			[]Field{fld("VAL", DBFDouble), fld("OVAL", DBFDouble), fld("OROC", DBFDouble),
				prop(fld("PREC", DBFShort)), fld("RVAL", DBFLong)}),
		"longin": fields(limitAlarmFields(DBFLong), []Field{fld("VAL", DBFLong), fld("INP", DBFInLink)}),
		"longout": fields(limitAlarmFields(DBFLong), outputFields(fld("IVOV", DBFLong)),
			propNames(DBFLong, "DRVH", "DRVL"), []Field{fld("VAL", DBFLong)}),
		"bi": fields(binaryFields(), []Field{fld("INP", DBFInLink)}),
		// bo HIGH is "seconds to hold high", not an alarm limit.
		"bo": fields(binaryFields(), outputFields(fld("IVOV", DBFUShort)),
			[]Field{fld("HIGH", DBFDouble), ro(fld("ORAW", DBFULong))}),
		"mbbi":      fields(mbbFields(), []Field{fld("INP", DBFInLink)}),
		"mbbo":      fields(mbbFields(), outputFields(fld("IVOV", DBFUShort)), []Field{ro(fld("ORAW", DBFULong))}),
		"stringin":  fields(stringFields(), []Field{fld("INP", DBFInLink)}),
		"stringout": fields(stringFields(), outputFields(str("IVOV", StringSize))),
		"waveform": {fld("VAL", DBFNoAccess), fld("INP", DBFInLink), ro(fld("NELM", DBFULong)),
			ro(mnu("FTVL", MenuFtype)), ro(fld("NORD", DBFULong)), prop(fld("PREC", DBFShort)),
			prop(str("EGU", 16)), prop(fld("HOPR", DBFDouble)), prop(fld("LOPR", DBFDouble)),
			fld("RARM", DBFShort), ro(fld("BUSY", DBFShort)), mnu("MPST", MenuPost), mnu("APST", MenuPost),
			fld("HASH", DBFULong)},
	}
	out := make([]*RecordType, 0, len(defs))
	for name, fs := range defs {
		all := fields(commonFields(), fs)
		slices.SortFunc(all, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) })
		out = append(out, &RecordType{name: name, fields: all})
	}
	slices.SortFunc(out, func(a, b *RecordType) int { return cmp.Compare(a.name, b.name) })
	return out
}
