package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

func TestListPVs(t *testing.T) {
	var out strings.Builder
	err := run(t.Context(), []string{"--prefix", "T1:", "--list-pvs"}, func(string) (string, bool) { return "", false }, &out, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "T1:SIM:SLOPE\nT1:TEMP\nT1:PERIOD\n" {
		t.Errorf("PVs %q", out.String())
	}
}

func TestThermometer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	env := map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
		"EPICS_CAS_SERVER_PORT": strconv.Itoa(catest.FreePort(t))}
	srvc := make(chan *ca.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--prefix", "T2:", "--macro", "PERIOD=0.02", "-q"},
			func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard, io.Discard,
			func(s *ca.Server) { srvc <- s })
	}()
	var srv *ca.Server
	select {
	case srv = <-srvc:
	case err := <-done:
		t.Fatal(err)
	}
	c, err := client.New(client.Config{NameServers: []string{srv.TCPAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc, tcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer tcancel()
	slope, err := c.Connect(tc, "T2:SIM:SLOPE")
	if err != nil {
		t.Fatal(err)
	}
	if err := slope.PutWait(tc, dbr.Doubles{2.5}); err != nil {
		t.Fatal(err)
	}
	temp, err := c.Connect(tc, "T2:TEMP")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[dbr.Status]bool{}
	major := make(chan struct{})
	sub, err := temp.Subscribe(dbr.TimeDouble, 1, dbr.EventValue|dbr.EventAlarm, func(u client.Update) {
		if u.Err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		seen[u.Meta.Status] = true
		if u.Meta.Severity == dbr.SeverityMajor && !seen[255] {
			seen[255] = true
			close(major)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	select {
	case <-major:
	case <-tc.Done():
		t.Fatal("TEMP never reached HIHI")
	}
	mu.Lock()
	if !seen[dbr.StatusHigh] || !seen[dbr.StatusHiHi] {
		t.Errorf("alarm states seen %v", seen)
	}
	mu.Unlock()
	period, err := c.Connect(tc, "T2:PERIOD")
	if err != nil {
		t.Fatal(err)
	}
	if err := period.PutWait(tc, dbr.Doubles{-1}); err == nil {
		t.Error("negative period accepted")
	}
	if err := period.PutWait(tc, dbr.Doubles{0.5}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
