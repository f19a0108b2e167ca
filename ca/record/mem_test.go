package record_test

import (
	"runtime"
	"strconv"

	"github.com/cabridge/cabridge/ca/dbr"
)

// formatValues returns every element of v as text.
func formatValues(v dbr.Value) []string {
	out := make([]string, v.Len())
	for i := range out {
		out[i] = dbr.FormatValue(v, i, nil)
	}
	return out
}

// runtimeMem is a heap measurement after a garbage collection.
type runtimeMem struct{ heap uint64 }

func (m *runtimeMem) read() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heap = ms.HeapAlloc
}

func recName(i int) string { return "REC:" + strconv.Itoa(i) }
