package serial

import (
	"testing"

	"github.com/cabridge/cabridge/drivers"
)

func BenchmarkMatch(b *testing.B) {
	f, err := ParseFormat("V=%f;I=%f;MODE=%{OFF|ON}*%0<sum8>")
	if err != nil {
		b.Fatal(err)
	}
	line := []byte("V=12.500;I=0.250;MODE=ON*")
	line = append(line, hexSum(string(line))...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Match(line, ",", 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	f, err := ParseFormat("VOLT %.3f*%0<sum8>")
	if err != nil {
		b.Fatal(err)
	}
	v := drivers.Floats{12.5}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Append(buf[:0], v, ","); err != nil {
			b.Fatal(err)
		}
	}
}
