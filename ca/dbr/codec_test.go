package dbr_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// goldenProps and goldenMeta are the metadata of the golden vectors.
func goldenProps() *dbr.Properties {
	return &dbr.Properties{
		Units:       "degC",
		Precision:   2,
		Limits:      dbr.Limits{DisplayHigh: 100, DisplayLow: -100, AlarmHigh: 90, WarningHigh: 80, WarningLow: -80, AlarmLow: -90, ControlHigh: 50, ControlLow: -50},
		EnumStrings: []string{"Zero", "One", "Two"},
		ClassName:   "ai",
	}
}

func goldenMeta() *dbr.Metadata {
	return &dbr.Metadata{
		Alarm:      dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor},
		Stamp:      dbr.Timestamp{Sec: 1000000000, Nsec: 123456789},
		AckT:       true,
		AckS:       dbr.SeverityMinor,
		Properties: goldenProps(),
	}
}

// goldenValue is the value of the golden vector of base type b.
func goldenValue(b dbr.Type) dbr.Value {
	switch b {
	case dbr.String:
		return dbr.Strings{"hello"}
	case dbr.Short:
		return dbr.Shorts{-2}
	case dbr.Float:
		return dbr.Floats{1.5}
	case dbr.Enum:
		return dbr.Enums{2}
	case dbr.Char:
		return dbr.Chars{200}
	case dbr.Long:
		return dbr.Longs{-100000}
	default:
		return dbr.Doubles{3.14159265}
	}
}

// Hex fragments of the golden vectors.
const (
	gST    = "0003 0002"                     // status HIHI, severity MAJOR
	gTS    = "3b9aca00 075bcd15"             // 1000000000 s, 123456789 ns
	gU     = "6465674300000000"              // "degC"
	gPrec  = "0002 0000"                     // precision 2, pad
	gShort = "fffe"                          // -2
	gFloat = "3fc00000"                      // 1.5
	gEnum  = "0002"                          // 2
	gChar  = "c8"                            // 200
	gLong  = "fffe7960"                      // -100000
	gDbl   = "400921fb53c8d4f1"              // 3.14159265
	gLimS  = "0064 ff9c 005a 0050 ffb0 ffa6" // 100 -100 90 80 -80 -90 as i16
	gCtlS  = "0032 ffce"                     // 50 -50
	gLimF  = "42c80000 c2c80000 42b40000 42a00000 c2a00000 c2b40000"
	gCtlF  = "42480000 c2480000"
	gLimC  = "64 9c 5a 50 b0 a6"
	gCtlC  = "32 ce"
	gLimL  = "00000064 ffffff9c 0000005a 00000050 ffffffb0 ffffffa6"
	gCtlL  = "00000032 ffffffce"
	gLimD  = "4059000000000000 c059000000000000 4056800000000000 4054000000000000 c054000000000000 c056800000000000"
	gCtlD  = "4049000000000000 c049000000000000"
)

func gHello() string { return hs("hello", 40) }

func gEnumStrs() string {
	return "0003" + hs("Zero", 26) + hs("One", 26) + hs("Two", 26) + z(13*26)
}

// goldenHex returns the expected payload of the golden vector of type t.
func goldenHex() map[dbr.Type]string {
	return map[dbr.Type]string{
		dbr.String:       gHello(),
		dbr.Short:        gShort + z(6),
		dbr.Float:        gFloat + z(4),
		dbr.Enum:         gEnum + z(6),
		dbr.Char:         gChar + z(7),
		dbr.Long:         gLong + z(4),
		dbr.Double:       gDbl,
		dbr.StsString:    gST + gHello() + z(4),
		dbr.StsShort:     gST + gShort + z(2),
		dbr.StsFloat:     gST + gFloat,
		dbr.StsEnum:      gST + gEnum + z(2),
		dbr.StsChar:      gST + "00" + gChar + z(2),
		dbr.StsLong:      gST + gLong,
		dbr.StsDouble:    gST + z(4) + gDbl,
		dbr.TimeString:   gST + gTS + gHello() + z(4),
		dbr.TimeShort:    gST + gTS + z(2) + gShort,
		dbr.TimeFloat:    gST + gTS + gFloat,
		dbr.TimeEnum:     gST + gTS + z(2) + gEnum,
		dbr.TimeChar:     gST + gTS + z(3) + gChar,
		dbr.TimeLong:     gST + gTS + gLong,
		dbr.TimeDouble:   gST + gTS + z(4) + gDbl,
		dbr.GrString:     gST + gHello() + z(4),
		dbr.GrShort:      gST + gU + gLimS + gShort + z(6),
		dbr.GrFloat:      gST + gPrec + gU + gLimF + gFloat + z(4),
		dbr.GrEnum:       gST + gEnumStrs() + gEnum,
		dbr.GrChar:       gST + gU + gLimC + "00" + gChar + z(4),
		dbr.GrLong:       gST + gU + gLimL + gLong,
		dbr.GrDouble:     gST + gPrec + gU + gLimD + gDbl,
		dbr.CtrlString:   gST + gHello() + z(4),
		dbr.CtrlShort:    gST + gU + gLimS + gCtlS + gShort + z(2),
		dbr.CtrlFloat:    gST + gPrec + gU + gLimF + gCtlF + gFloat + z(4),
		dbr.CtrlEnum:     gST + gEnumStrs() + gEnum,
		dbr.CtrlChar:     gST + gU + gLimC + gCtlC + "00" + gChar + z(2),
		dbr.CtrlLong:     gST + gU + gLimL + gCtlL + gLong,
		dbr.CtrlDouble:   gST + gPrec + gU + gLimD + gCtlD + gDbl,
		dbr.PutAckT:      "0001" + z(6),
		dbr.PutAckS:      "0002" + z(6),
		dbr.StsAckString: "0003 0002 0001 0001" + gHello(),
		dbr.ClassName:    hs("ai", 40),
	}
}

// goldenInput returns the value and metadata encoded for type t.
func goldenInput(t dbr.Type) (dbr.Value, *dbr.Metadata) {
	switch t {
	case dbr.PutAckT:
		return dbr.Enums{1}, nil
	case dbr.PutAckS:
		return dbr.Enums{2}, nil
	}
	return goldenValue(t.Base()), goldenMeta()
}

// decodedMeta is what DecodeData gives back for the golden metadata.
func decodedMeta(t dbr.Type) dbr.Metadata {
	full := goldenMeta()
	md := dbr.Metadata{Alarm: full.Alarm}
	p := goldenProps()
	switch {
	case t == dbr.PutAckT || t == dbr.PutAckS || t.Family() == dbr.FamilyPlain:
		return dbr.Metadata{}
	case t == dbr.StsAckString:
		md.AckT, md.AckS = full.AckT, full.AckS
	case t == dbr.ClassName:
		return dbr.Metadata{Properties: &dbr.Properties{ClassName: "ai"}}
	case t.Family() == dbr.FamilyTime:
		md.Stamp = full.Stamp
	case t.Family() == dbr.FamilyGr || t.Family() == dbr.FamilyCtrl:
		switch t.Base() {
		case dbr.String:
		case dbr.Enum:
			md.Properties = &dbr.Properties{EnumStrings: p.EnumStrings}
		default:
			q := &dbr.Properties{Units: p.Units, Limits: p.Limits}
			if t.Base() == dbr.Float || t.Base() == dbr.Double {
				q.Precision = p.Precision
			}
			if t.Base() == dbr.Char { // dbr_char_t is unsigned
				l := &q.Limits
				for _, f := range []*float64{&l.DisplayHigh, &l.DisplayLow, &l.AlarmHigh, &l.WarningHigh, &l.WarningLow, &l.AlarmLow, &l.ControlHigh, &l.ControlLow} {
					*f = float64(uint8(int32(*f)))
				}
			}
			if t.Family() == dbr.FamilyGr {
				q.Limits.ControlHigh, q.Limits.ControlLow = 0, 0
			}
			md.Properties = q
		}
	}
	return md
}

func TestGoldenAllTypes(t *testing.T) {
	want := goldenHex()
	for code := dbr.Type(0); code <= dbr.LastType; code++ {
		t.Run(code.String(), func(t *testing.T) {
			v, md := goldenInput(code)
			exp := unhex(t, want[code])
			if len(exp) != dbr.PaddedSize(code, 1) {
				t.Fatalf("test vector is %d bytes, PaddedSize is %d", len(exp), dbr.PaddedSize(code, 1))
			}
			prefix := []byte{0xAA, 0xBB}
			got, err := dbr.AppendData(prefix, code, 1, v, md)
			if err != nil {
				t.Fatalf("AppendData: %v", err)
			}
			if !bytes.Equal(got[:2], []byte{0xAA, 0xBB}) {
				t.Fatalf("AppendData clobbered dst prefix")
			}
			if !bytes.Equal(got[2:], exp) {
				t.Fatalf("AppendData:\n got %x\nwant %x", got[2:], exp)
			}
			// A reused buffer full of junk gives the same bytes.
			dirty := bytes.Repeat([]byte{0xFF}, 1024)[:3]
			got, err = dbr.AppendData(dirty, code, 1, v, md)
			if err != nil || !bytes.Equal(got[3:], exp) {
				t.Fatalf("AppendData into a dirty buffer: %v\n got %x\nwant %x", err, got[3:], exp)
			}
			dv, dmd, err := dbr.DecodeData(code, 1, exp)
			if err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			wantV := v
			if code == dbr.ClassName {
				wantV = dbr.Strings{"ai"}
			}
			if !sameValue(dv, wantV) {
				t.Errorf("decoded value %#v, want %#v", dv, wantV)
			}
			if wm := decodedMeta(code); !sameMeta(dmd, wm) {
				t.Errorf("decoded metadata %+v (%+v), want %+v (%+v)", dmd, dmd.Properties, wm, wm.Properties)
			}
			// Unpadded payload decodes too; one byte less does not.
			n := dbr.DataSize(code, 1)
			if _, _, err := dbr.DecodeData(code, 1, exp[:n]); err != nil {
				t.Errorf("DecodeData of unpadded payload: %v", err)
			}
			if code != dbr.String {
				if _, _, err := dbr.DecodeData(code, 1, exp[:n-1]); !errors.Is(err, dbr.ErrShort) {
					t.Errorf("DecodeData of %d bytes: err %v, want ErrShort", n-1, err)
				}
			}
		})
	}
}

// TestGoldenEdges covers counts, truncation, conversions and the §4.4
// example of the reference.
func TestGoldenEdges(t *testing.T) {
	nanLimits := &dbr.Properties{Limits: dbr.Limits{DisplayHigh: math.NaN(), DisplayLow: math.Inf(1), AlarmHigh: math.Inf(-1), WarningHigh: 1e10, WarningLow: -2.9, AlarmLow: 70000, ControlHigh: -1, ControlLow: 255.9}}
	many := make([]string, 17)
	for i := range many {
		many[i] = strings.Repeat("s", 30)
	}
	cases := []struct {
		name  string
		t     dbr.Type
		count int
		v     dbr.Value
		md    *dbr.Metadata
		hex   string
	}{
		{
			name: "ref 4.4 ai CTRL_DOUBLE", t: dbr.CtrlDouble, count: 1, v: dbr.Doubles{3.14159265},
			md: &dbr.Metadata{Properties: &dbr.Properties{Units: "mm", Precision: 3, Limits: dbr.Limits{
				DisplayHigh: 100, DisplayLow: -100, AlarmHigh: 90, WarningHigh: 80, WarningLow: -80, AlarmLow: -90, ControlHigh: 100, ControlLow: -100}}},
			hex: `0000 0000 0003 0000 6d6d000000000000
				4059000000000000 c059000000000000 4056800000000000 4054000000000000
				c054000000000000 c056800000000000 4059000000000000 c059000000000000
				400921fb53c8d4f1`,
		},
		{name: "count 0 plain", t: dbr.Double, count: 0, v: dbr.Doubles{1}, hex: ""},
		{name: "count 0 TIME_DOUBLE", t: dbr.TimeDouble, count: 0, v: dbr.Doubles{}, md: goldenMeta(), hex: gST + gTS + z(4)},
		{name: "count 0 CTRL_ENUM", t: dbr.CtrlEnum, count: 0, v: dbr.Enums{}, md: goldenMeta(), hex: gST + gEnumStrs() + z(2)},
		{name: "count 3 zero filled", t: dbr.TimeDouble, count: 3, v: dbr.Doubles{1}, md: goldenMeta(),
			hex: gST + gTS + z(4) + "3ff0000000000000" + z(16)},
		{name: "count 2 truncates", t: dbr.Double, count: 2, v: dbr.Doubles{1, 2, 3}, hex: "3ff0000000000000 4000000000000000"},
		{name: "nil value", t: dbr.StsShort, count: 2, v: nil, md: goldenMeta(), hex: gST + z(4)},
		{name: "nil metadata", t: dbr.CtrlLong, count: 1, v: dbr.Longs{7}, hex: z(44) + "00000007"},
		{name: "string array", t: dbr.String, count: 2, v: dbr.Strings{"a", "bc"}, hex: hs("a", 40) + hs("bc", 40)},
		{name: "long string truncated", t: dbr.String, count: 1, v: dbr.Strings{strings.Repeat("x", 45)}, hex: hs(strings.Repeat("x", 39), 40)},
		{name: "char array", t: dbr.Char, count: 11, v: dbr.Chars("hello world"), hex: hex.EncodeToString([]byte("hello world")) + z(5)},
		{name: "long units truncated", t: dbr.GrShort, count: 1, v: dbr.Shorts{1},
			md: &dbr.Metadata{Properties: &dbr.Properties{Units: "millimetres"}}, hex: z(4) + hs("millime", 8) + z(12) + "0001" + z(6)},
		{name: "enum strings capped", t: dbr.GrEnum, count: 1, v: dbr.Enums{16},
			md:  &dbr.Metadata{Properties: &dbr.Properties{EnumStrings: many}},
			hex: z(4) + "0010" + strings.Repeat(hs(strings.Repeat("s", 25), 26), 16) + "0010"},
		{name: "limits non-finite and narrowed as LONG", t: dbr.CtrlLong, count: 1, v: dbr.Longs{0}, md: &dbr.Metadata{Properties: nanLimits},
			hex: z(4) + z(8) + "00000000 00000000 00000000 540be400 fffffffe 00011170 ffffffff 000000ff 00000000"},
		{name: "limits narrowed as SHORT", t: dbr.CtrlShort, count: 1, v: dbr.Shorts{0}, md: &dbr.Metadata{Properties: nanLimits},
			hex: z(4) + z(8) + "0000 0000 0000 e400 fffe 1170 ffff 00ff 0000" + z(2)},
		{name: "limits narrowed as CHAR", t: dbr.CtrlChar, count: 1, v: dbr.Chars{0}, md: &dbr.Metadata{Properties: nanLimits},
			hex: z(4) + z(8) + "00 00 00 00 fe 70 ff ff 00 00" + z(2)},
		{name: "limits in FLOAT", t: dbr.GrFloat, count: 1, v: dbr.Floats{0}, md: &dbr.Metadata{Properties: nanLimits},
			hex: z(4) + "0000 0000" + z(8) + "7fc00000 7f800000 ff800000 501502f9 c039999a 4788b800 00000000" + z(4)},
		{name: "DOUBLE as SHORT", t: dbr.Short, count: 2, v: dbr.Doubles{3.7, -3.7}, hex: "0003 fffd" + z(4)},
		{name: "DOUBLE as CHAR wraps", t: dbr.Char, count: 2, v: dbr.Doubles{-100, 300.5}, hex: "9c 2c" + z(6)},
		{name: "DOUBLE as STRING", t: dbr.TimeString, count: 1, v: dbr.Doubles{3.14159265}, md: goldenMeta(),
			hex: gST + gTS + hs("3.14", 40) + z(4)},
		{name: "ENUM as STRING", t: dbr.StsString, count: 2, v: dbr.Enums{1, 9}, md: goldenMeta(),
			hex: gST + hs("One", 40) + hs("9", 40) + z(4)},
		{name: "STRING as LONG", t: dbr.Long, count: 1, v: dbr.Strings{" 42 cnt"}, hex: "0000002a" + z(4)},
		{name: "STRING as ENUM", t: dbr.Enum, count: 1, v: dbr.Strings{"Two"}, md: goldenMeta(), hex: "0002" + z(6)},
		{name: "waveform read as STSACK_STRING", t: dbr.StsAckString, count: 1, v: dbr.Doubles{2.5, 1},
			md:  &dbr.Metadata{Alarm: dbr.Alarm{Status: dbr.StatusUDF, Severity: dbr.SeverityInvalid}, AckS: dbr.SeverityInvalid},
			hex: "0011 0003 0000 0003" + hs("3", 40)}, // 2.5 at precision 0 rounds half up
		{name: "CLASS_NAME without properties", t: dbr.ClassName, count: 1, v: dbr.Doubles{1}, hex: z(40)},
		{name: "PUT_ACKT from DOUBLE", t: dbr.PutAckT, count: 1, v: dbr.Doubles{1}, hex: "0001" + z(6)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := unhex(t, c.hex)
			dirty := bytes.Repeat([]byte{0xEE}, 2048)[:0]
			got, err := dbr.AppendData(dirty, c.t, c.count, c.v, c.md)
			if err != nil {
				t.Fatalf("AppendData: %v", err)
			}
			if !bytes.Equal(got, exp) {
				t.Fatalf("AppendData:\n got %x\nwant %x", got, exp)
			}
			if len(got) != dbr.PaddedSize(c.t, c.count) {
				t.Fatalf("len %d, PaddedSize %d", len(got), dbr.PaddedSize(c.t, c.count))
			}
			// Re-encoding what was decoded gives the same bytes.
			dv, dmd, err := dbr.DecodeData(c.t, c.count, got)
			if err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			again, err := dbr.AppendData(nil, c.t, c.count, dv, &dmd)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("re-encode: err %v\n got %x\nwant %x", err, again, got)
			}
		})
	}
}

func TestAppendDataErrors(t *testing.T) {
	cases := []struct {
		name  string
		t     dbr.Type
		count int
		v     dbr.Value
		md    *dbr.Metadata
		want  error
	}{
		{"bad type", dbr.LastType + 1, 1, dbr.Doubles{1}, nil, dbr.ErrBadType},
		{"unparsable string", dbr.Double, 1, dbr.Strings{"hello"}, nil, dbr.ErrSyntax},
		{"string out of range", dbr.Long, 1, dbr.Strings{"99999999999"}, nil, dbr.ErrRange},
		{"bad enum string", dbr.TimeEnum, 1, dbr.Strings{"two"}, goldenMeta(), dbr.ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			got, err := dbr.AppendData(dst, c.t, c.count, c.v, c.md)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if !bytes.Equal(got, []byte{1, 2, 3}) {
				t.Fatalf("dst changed to %x", got)
			}
		})
	}
	if _, err := dbr.AppendData(nil, dbr.Double, -1, dbr.Doubles{1}, nil); err == nil {
		t.Error("negative count: no error")
	}
}

func TestDecodeData(t *testing.T) {
	cases := []struct {
		name    string
		t       dbr.Type
		count   int
		hex     string
		want    dbr.Value
		wantErr error
	}{
		{name: "short scalar string put", t: dbr.String, count: 1, hex: "68656c6c6f000000", want: dbr.Strings{"hello"}},
		{name: "string without NUL", t: dbr.String, count: 1, hex: "6869", want: dbr.Strings{"hi"}},
		{name: "empty string put", t: dbr.String, count: 1, hex: "", want: dbr.Strings{""}},
		{name: "string cut at NUL", t: dbr.String, count: 1, hex: hs("ab", 3) + "63" + z(36), want: dbr.Strings{"ab"}},
		{name: "string cut at 39", t: dbr.String, count: 1, hex: strings.Repeat("41", 40), want: dbr.Strings{strings.Repeat("A", 39)}},
		{name: "short string array", t: dbr.String, count: 2, hex: hs("a", 48), wantErr: dbr.ErrShort},
		{name: "short doubles", t: dbr.Double, count: 2, hex: z(15), wantErr: dbr.ErrShort},
		{name: "count 0 plain", t: dbr.Double, count: 0, hex: "", want: dbr.Doubles{}},
		{name: "bad type", t: 39, count: 1, hex: z(8), wantErr: dbr.ErrBadType},
		{name: "PUT_ACKS", t: dbr.PutAckS, count: 1, hex: "0003", want: dbr.Enums{3}},
		{name: "padding ignored", t: dbr.Long, count: 1, hex: "00000001 ffffffff", want: dbr.Longs{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, err := dbr.DecodeData(c.t, c.count, unhex(t, c.hex))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err == nil && !reflect.DeepEqual(v, c.want) {
				t.Fatalf("got %#v, want %#v", v, c.want)
			}
		})
	}
}

func TestDecodeEnumStrings(t *testing.T) {
	b := unhex(t, gST+"ffff"+hs("x", 26*16)+"0001")
	_, md, err := dbr.DecodeData(dbr.GrEnum, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	if md.Properties == nil || md.Properties.EnumStrings != nil {
		t.Fatalf("negative no_str: got %+v", md.Properties)
	}
	binaryPut16(b[4:], 40)
	_, md, err = dbr.DecodeData(dbr.CtrlEnum, 1, b)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Properties.EnumStrings); n != 16 || md.Properties.EnumStrings[0] != "x" {
		t.Fatalf("no_str 40: got %d strings %q", n, md.Properties.EnumStrings)
	}
}

func binaryPut16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

func TestDecodeNoAlias(t *testing.T) {
	for code := dbr.Type(0); code <= dbr.LastType; code++ {
		v, md := goldenInput(code)
		b, err := dbr.AppendData(nil, code, 1, v, md)
		if err != nil {
			t.Fatal(err)
		}
		dv, dmd, err := dbr.DecodeData(code, 1, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 0x55
		}
		if !sameValue(dv, valueOrClass(code, v)) || !sameMeta(dmd, decodedMeta(code)) {
			t.Errorf("%v: decoded data changed with its input buffer", code)
		}
	}
}

func valueOrClass(t dbr.Type, v dbr.Value) dbr.Value {
	if t == dbr.ClassName {
		return dbr.Strings{"ai"}
	}
	return v
}

// TestRoundTripArrays checks DecodeData(AppendData(x)) == x for arrays of
// every type and family.
func TestRoundTripArrays(t *testing.T) {
	vals := []dbr.Value{
		dbr.Strings{"", "a", strings.Repeat("z", 39)},
		dbr.Shorts{math.MinInt16, -1, 0, math.MaxInt16},
		dbr.Floats{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 1e-45, math.MaxFloat32},
		dbr.Enums{0, 1, math.MaxUint16},
		dbr.Chars{0, 1, 127, 128, 255},
		dbr.Longs{math.MinInt32, -1, 0, math.MaxInt32},
		dbr.Doubles{math.NaN(), math.Inf(1), math.Copysign(0, -1), 5e-324, math.MaxFloat64},
	}
	for code := dbr.Type(0); code <= dbr.CtrlDouble; code++ {
		v := vals[code.Base()]
		b, err := dbr.AppendData(nil, code, v.Len(), v, goldenMeta())
		if err != nil {
			t.Fatalf("%v: %v", code, err)
		}
		dv, _, err := dbr.DecodeData(code, v.Len(), b)
		if err != nil {
			t.Fatalf("%v: %v", code, err)
		}
		if !sameValue(dv, v) {
			t.Errorf("%v: got %v, want %v", code, dv, v)
		}
	}
}
