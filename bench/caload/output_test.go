package main

import (
	"io"
	"slices"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"count small", count(7), "7"},
		{"count thousands", count(100000), "100,000"},
		{"count million", count(1000000), "1,000,000"},
		{"count negative", count(-1234), "-1,234"},
		{"rate k", rate(377000), "377 k"},
		{"rate M", rate(2.5e6), "2.50 M"},
		{"rate small", rate(12.345), "12.3"},
		{"dur ms", dur(0.00413), "4.13 ms"},
		{"dur s", dur(12.5), "12.5 s"},
		{"bytes", bytesIEC(512), "512 B"},
		{"KiB", bytesIEC(1700), "1.66 KiB"},
		{"MiB negative", bytesIEC(-3 << 20), "-3.00 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantNs  []int
		wantErr bool
	}{
		{"defaults", nil, []int{1000, 10000, 100000}, false},
		{"list", []string{"-n", "5, 50"}, []int{5, 50}, false},
		{"too many", []string{"-n", "100001"}, nil, true},
		{"zero", []string{"-n", "0"}, nil, true},
		{"not a number", []string{"-n", "x"}, nil, true},
		{"negative duration", []string{"-duration", "-1s"}, nil, true},
		{"stray argument", []string{"extra"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(o.ns, tt.wantNs) {
				t.Errorf("ns = %v, want %v", o.ns, tt.wantNs)
			}
		})
	}
}
