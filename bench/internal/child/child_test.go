package child

import (
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	b := &TailBuffer{Max: 8}
	for _, s := range []string{"0123", "4567", "89ab"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := b.String(); got != "456789ab" {
		t.Errorf("kept %q, want the last 8 bytes", got)
	}
}

func TestCleanEnv(t *testing.T) {
	got := CleanEnv([]string{"PATH=/bin", "EPICS_CA_ADDR_LIST=x", "CABRIDGE_CONFIG=y", "HOME=/root"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/root" {
		t.Errorf("CleanEnv = %v", got)
	}
}

func TestFreePorts(t *testing.T) {
	if p, err := FreeTCPUDPPort(); err != nil || p <= 0 {
		t.Errorf("FreeTCPUDPPort = %d, %v", p, err)
	}
	if p, err := FreeUDPPort(); err != nil || p <= 0 {
		t.Errorf("FreeUDPPort = %d, %v", p, err)
	}
}
