package dbr_test

import (
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

func waveform(n int) dbr.Doubles {
	v := make(dbr.Doubles, n)
	for i := range v {
		v[i] = float64(i) * 0.5
	}
	return v
}

func BenchmarkAppendTimeDouble(b *testing.B) {
	var v dbr.Value = dbr.Doubles{3.14159265}
	md := goldenMeta()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = dbr.AppendData(buf[:0], dbr.TimeDouble, 1, v, md)
	}
}

func BenchmarkAppendCtrlDouble(b *testing.B) {
	var v dbr.Value = dbr.Doubles{3.14159265}
	md := goldenMeta()
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = dbr.AppendData(buf[:0], dbr.CtrlDouble, 1, v, md)
	}
}

func BenchmarkAppendWaveform1M(b *testing.B) {
	const n = 1000000
	var v dbr.Value = waveform(n)
	md := goldenMeta()
	buf := make([]byte, 0, dbr.PaddedSize(dbr.TimeDouble, n))
	b.SetBytes(int64(dbr.PaddedSize(dbr.TimeDouble, n)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = dbr.AppendData(buf[:0], dbr.TimeDouble, n, v, md)
	}
}

func BenchmarkAppendWaveform1MAsFloat(b *testing.B) {
	const n = 1000000
	var v dbr.Value = waveform(n)
	buf := make([]byte, 0, dbr.PaddedSize(dbr.TimeFloat, n))
	b.SetBytes(int64(dbr.PaddedSize(dbr.TimeFloat, n)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = dbr.AppendData(buf[:0], dbr.TimeFloat, n, v, nil)
	}
}

func BenchmarkDecodeTimeDouble(b *testing.B) {
	p, _ := dbr.AppendData(nil, dbr.TimeDouble, 1, dbr.Doubles{3.14159265}, goldenMeta())
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = dbr.DecodeData(dbr.TimeDouble, 1, p)
	}
}

func BenchmarkDecodeCtrlEnum(b *testing.B) {
	p, _ := dbr.AppendData(nil, dbr.CtrlEnum, 1, dbr.Enums{1}, goldenMeta())
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = dbr.DecodeData(dbr.CtrlEnum, 1, p)
	}
}

func BenchmarkDecodeWaveform1M(b *testing.B) {
	const n = 1000000
	p, _ := dbr.AppendData(nil, dbr.TimeDouble, n, waveform(n), goldenMeta())
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = dbr.DecodeData(dbr.TimeDouble, n, p)
	}
}

func BenchmarkFormatFloat(b *testing.B) {
	for b.Loop() {
		_ = dbr.FormatFloat(3.14159265, 3)
	}
}

func BenchmarkParseFloat(b *testing.B) {
	for b.Loop() {
		_, _ = dbr.ParseFloat(" 3.14159265 V")
	}
}
