package interop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
)

type putOp struct {
	PV              string `json:"pv"`
	Type            int    `json:"type"`
	Values          []any  `json:"values"`
	Mode            string `json:"mode"`
	ExpectException bool   `json:"expect_exception,omitempty"`
}

type putResult struct {
	Op        putOp     `json:"op"`
	Status    *int      `json:"status"`
	Request   *int      `json:"request_status"`
	Ret       *int      `json:"ret"`
	Callback  []string  `json:"callback"`
	Exception *struct{} `json:"exception"`
	Readback  dbrResult `json:"readback"`
}

// TestPut writes numbers, strings to numeric PVs and enums by index and by
// name, with and without put-callback, and checks that rejected puts give
// the client an error and change nothing.
func TestPut(t *testing.T) {
	requirePeer(t)
	d := ca.NewDouble(ca.Options{Precision: 2})
	l := ca.NewLong(ca.Options{})
	e := ca.NewEnum(ca.Options{}, []string{"Off", "On", "Fault"})
	s := ca.NewString(ca.Options{})
	ro := ca.NewDouble(ca.Options{ReadOnly: true}, 5)
	lstr := ca.NewChar(ca.Options{MaxLength: 16}, "short")
	srv := startServer(t, map[string]ca.PV{"p:d": d, "p:l": l, "p:e": e, "p:s": s, "p:ro": ro, "p:lstr": lstr}, nil)

	type step struct {
		op   putOp
		ok   bool // the put must succeed
		want any  // readback value (first element) as JSON decodes it
	}
	steps := []step{
		{putOp{PV: "p:d", Type: dbrDouble, Values: []any{7.25}, Mode: "notify"}, true, 7.25},
		{putOp{PV: "p:d", Type: dbrDouble, Values: []any{8.5}, Mode: "pyepics"}, true, 8.5},
		{putOp{PV: "p:d", Type: dbrDouble, Values: []any{9.0}, Mode: "plain"}, true, 9.0},
		{putOp{PV: "p:d", Type: dbrString, Values: []any{"12.5"}, Mode: "notify"}, true, 12.5},
		{putOp{PV: "p:d", Type: dbrLong, Values: []any{3}, Mode: "notify"}, true, 3.0},
		{putOp{PV: "p:l", Type: dbrString, Values: []any{"77"}, Mode: "notify"}, true, 77.0},
		{putOp{PV: "p:l", Type: dbrDouble, Values: []any{41.9}, Mode: "plain"}, true, 41.0},
		{putOp{PV: "p:l", Type: dbrLong, Values: []any{-5}, Mode: "pyepics"}, true, -5.0},
		{putOp{PV: "p:e", Type: dbrEnum, Values: []any{1}, Mode: "notify"}, true, 1.0},
		{putOp{PV: "p:e", Type: dbrString, Values: []any{"Fault"}, Mode: "notify"}, true, 2.0},
		{putOp{PV: "p:e", Type: dbrString, Values: []any{"Off"}, Mode: "plain"}, true, 0.0},
		{putOp{PV: "p:e", Type: dbrString, Values: []any{"1"}, Mode: "notify"}, true, 1.0},
		{putOp{PV: "p:e", Type: dbrDouble, Values: []any{2.0}, Mode: "notify"}, true, 2.0},
		{putOp{PV: "p:s", Type: dbrString, Values: []any{"written by libca"}, Mode: "notify"}, true, "written by libca"},
		{putOp{PV: "p:s", Type: dbrString, Values: []any{"again"}, Mode: "pyepics"}, true, "again"},
		{putOp{PV: "p:lstr", Type: dbrChar, Values: []any{104, 105, 0}, Mode: "notify"}, true, 104.0},
		// Rejected puts: the client gets an error and nothing changes.
		{putOp{PV: "p:ro", Type: dbrDouble, Values: []any{6.0}, Mode: "notify"}, false, 5.0},
		{putOp{PV: "p:e", Type: dbrEnum, Values: []any{7}, Mode: "notify"}, false, 2.0},
		{putOp{PV: "p:e", Type: dbrString, Values: []any{"Bogus"}, Mode: "notify"}, false, 2.0},
		{putOp{PV: "p:e", Type: dbrEnum, Values: []any{9}, Mode: "plain", ExpectException: true}, false, 2.0},
		{putOp{PV: "p:d", Type: dbrString, Values: []any{"not a number"}, Mode: "notify"}, false, 3.0},
		{putOp{PV: "p:lstr", Type: dbrChar, Values: []any{65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65}, Mode: "notify"}, false, 104.0},
	}
	ops := make([]putOp, len(steps))
	for i, s := range steps {
		ops[i] = s.op
	}
	p := startPy(t, 60*time.Second, "put.py", srv.Env(), map[string]any{"ops": ops})
	for i, st := range steps {
		var r putResult
		p.next(&r)
		name := fmt.Sprintf("%d %s %s %v", i, st.op.PV, st.op.Mode, st.op.Values)
		ok := true
		switch {
		case r.Request != nil && *r.Request != ecaNormal:
			ok = false
		case r.Status != nil:
			ok = *r.Status == ecaNormal
		case r.Ret != nil:
			ok = *r.Ret == 1 && len(r.Callback) == 1
		case r.Exception != nil:
			ok = false
		}
		if ok != st.ok {
			t.Errorf("%s: put succeeded=%v, want %v (%+v)", name, ok, st.ok, r)
		}
		if st.op.ExpectException && r.Exception == nil {
			t.Errorf("%s: no libca exception for a rejected put", name)
		}
		if r.Readback.Status != 0 || len(r.Readback.Value) == 0 || fmt.Sprint(r.Readback.Value[0]) != fmt.Sprint(st.want) {
			t.Errorf("%s: readback %v (alarm status %d), want %v", name, r.Readback.Value, r.Readback.Status, st.want)
		}
	}
	var tail struct{ Exceptions []any }
	p.next(&tail)
	p.wait()

	// The server's side of the story.
	if got := d.Value(); got != 3 {
		t.Errorf("p:d = %v, want 3", got)
	}
	if got := l.Value(); got != -5 {
		t.Errorf("p:l = %v, want -5", got)
	}
	if got := e.Value(); got != 2 {
		t.Errorf("p:e = %v, want 2", got)
	}
	if got := s.Value(); got != "again" {
		t.Errorf("p:s = %q, want again", got)
	}
	if got := ro.Value(); got != 5 {
		t.Errorf("p:ro = %v, want 5 (read-only)", got)
	}
	if got := lstr.Value(); got != "hi" {
		t.Errorf("p:lstr = %q, want hi", got)
	}
	if st := srv.Stats(); st.Puts == 0 {
		t.Errorf("server counted no puts: %+v", st)
	}
}
