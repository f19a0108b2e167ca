package loadstat

import (
	"math"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"single", []float64{7}, 50, 7},
		{"median odd", []float64{1, 2, 3}, 50, 2},
		{"median even interpolates", []float64{1, 2, 3, 4}, 50, 2.5},
		{"p0 is min", []float64{1, 5, 9}, 0, 1},
		{"p100 is max", []float64{1, 5, 9}, 100, 9},
		{"below range clamps", []float64{1, 5, 9}, -3, 1},
		{"above range clamps", []float64{1, 5, 9}, 250, 9},
		{"p99 of 0..100", seq(101), 99, 99},
		{"p99 of 0..9", seq(10), 99, 8.91},
		{"p25", []float64{10, 20, 30, 40, 50}, 25, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
	if got := Percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("Percentile(nil) = %v, want NaN", got)
	}
}

func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i)
	}
	return s
}

func TestSummarize(t *testing.T) {
	got := Summarize([]float64{5, 1, 4, 2, 3})
	want := Summary{N: 5, Min: 1, Median: 3, P99: 4.96, Max: 5, Mean: 3}
	if got.N != want.N || got.Min != want.Min || got.Median != want.Median ||
		math.Abs(got.P99-want.P99) > 1e-9 || got.Max != want.Max || got.Mean != want.Mean {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
}

func TestParseCPUTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "plain",
			stat: "1234 (cabridge) S 1 1234 1234 0 -1 4194560 1019 0 0 0 250 75 0 0 20 0 9 0 12345 1000000 500 18446744073709551615\n",
			want: 3250 * time.Millisecond,
		},
		{
			name: "command with spaces and parentheses",
			stat: "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1\n",
			want: 100 * time.Millisecond,
		},
		{name: "no command", stat: "42 cabridge R 1", wantErr: true},
		{name: "too short", stat: "42 (x) R 1 2 3", wantErr: true},
		{name: "not a number", stat: "42 (x) R 1 42 42 0 -1 0 0 0 0 0 x 3 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCPUTime([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseCPUTime error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseCPUTime = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	const status = "Name:\tcabridge\nVmPeak:\t 1300000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\nBad:\t12 MB\n"
	tests := []struct {
		name    string
		key     string
		want    int64
		wantErr bool
	}{
		{"rss", "VmRSS", 10240 * 1024, false},
		{"hwm", "VmHWM", 20480 * 1024, false},
		{"missing", "VmSwap", 0, true},
		{"no unit", "Threads", 0, true},
		{"wrong unit", "Bad", 0, true},
		{"prefix is not a match", "Vm", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatusKB([]byte(status), tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStatusKB(%q) error = %v, wantErr %v", tt.key, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseStatusKB(%q) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}

// TestSelf reads this process's own /proc files, where they exist.
func TestSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := CPUTime(0); err != nil {
		t.Errorf("CPUTime(0): %v", err)
	}
	rss, err := RSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("RSS = %d, %v; want > 0", rss, err)
	}
	if _, err := PeakRSS(0); err != nil {
		t.Errorf("PeakRSS(0): %v", err)
	}
}

func TestParseCPUModel(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"x86", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nmodel name\t: other\n", "Intel(R) Xeon(R) CPU @ 2.20GHz"},
		{"none", "processor\t: 0\nBogoMIPS\t: 50.00\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCPUModel([]byte(tt.in)); got != tt.want {
				t.Errorf("ParseCPUModel = %q, want %q", got, tt.want)
			}
		})
	}
}
