package ioc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/ioc"
)

// getString reads name as a DBR_TIME_STRING through a new channel.
func getString(t *testing.T, ctx context.Context, ch interface {
	Get(context.Context, dbr.Type, int) (dbr.Value, dbr.Metadata, error)
}) (string, dbr.Metadata) {
	t.Helper()
	v, md, err := ch.Get(ctx, dbr.TimeString, 1)
	if err != nil {
		t.Fatal(err)
	}
	return v.(dbr.Strings)[0], md
}

func TestFunctionNames(t *testing.T) {
	g := ioc.NewGroup("$(P)", map[string]string{"P": "F:"})
	add := ioc.Func2(g, "ADD", ioc.Double, ioc.FuncSpec[float64]{Retval: ioc.Spec[float64]{Value: -1, Units: "V"}},
		ioc.NewArg("A", ioc.Double, ioc.Spec[float64]{Value: 1}),
		ioc.NewArg("B", ioc.Long, ioc.Spec[int32]{Value: 2}),
		func(_ context.Context, a float64, b int32) (float64, error) { return a + float64(b), nil })
	ioc.Func0(g, "", ioc.String, ioc.FuncSpec[string]{Names: ioc.FuncNames{Process: "Go", Status: "Stat", Retval: "Out"}},
		func(context.Context) (string, error) { return "hi", nil })
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	want := "F:ADD:A F:ADD:B F:ADD:Process F:ADD:Status F:ADD:Retval F:Go F:Stat F:Out"
	if got := strings.Join(g.Names(), " "); got != want {
		t.Errorf("names %q, want %q", got, want)
	}
	if add.Name() != "F:ADD:" || add.Status.Value() != ioc.FuncIdle || add.Retval.Value() != -1 ||
		add.Retval.Access() != ca.AccessRead || add.Status.Access() != ca.AccessRead || add.Process.Access() != ca.ReadWrite {
		t.Errorf("initial state: %q %q %v", add.Name(), add.Status.Value(), add.Retval.Value())
	}
	if u := add.Retval.Snapshot().Meta.Properties.Units; u != "V" {
		t.Errorf("retval units %q", u)
	}
}

func TestFunctionErrors(t *testing.T) {
	body := func(context.Context, *ioc.Call) (int32, error) { return 0, nil }
	tests := []struct {
		name  string
		build func(g *ioc.Group)
		want  string
	}{
		{"no body", func(g *ioc.Group) { ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{}, nil) }, "no function body"},
		{"argument twice", func(g *ioc.Group) {
			a := ioc.NewArg("A", ioc.Long, ioc.Spec[int32]{})
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{}, body, a)
			ioc.NewFunction(g, "G", ioc.Long, ioc.FuncSpec[int32]{}, body, a)
		}, `argument "A" already belongs to function "E:F:"`},
		{"array argument", func(g *ioc.Group) {
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{}, body, ioc.NewArg("A", ioc.Long, ioc.Spec[int32]{MaxLength: 3}))
		}, "function argument is an array"},
		{"array retval", func(g *ioc.Group) {
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{Retval: ioc.Spec[int32]{MaxLength: 2}}, body)
		}, "return value is an array"},
		{"clashing names", func(g *ioc.Group) {
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{}, body, ioc.NewArg("Status", ioc.Long, ioc.Spec[int32]{}))
		}, `argument "Status" clashes`},
		{"same own names", func(g *ioc.Group) {
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{Names: ioc.FuncNames{Status: "Retval"}}, body)
		}, "distinct names"},
		{"nil argument", func(g *ioc.Group) { ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{}, body, nil) }, "nil argument"},
		{"retval put hook", func(g *ioc.Group) {
			ioc.NewFunction(g, "F", ioc.Long, ioc.FuncSpec[int32]{Retval: ioc.Spec[int32]{
				Put: func(_ context.Context, _ *ioc.PV[int32], v int32) (int32, error) { return v, nil }}}, body)
		}, "put hook on a read-only PV"},
		{"unresolved macro", func(g *ioc.Group) { ioc.NewFunction(g, "$(X)", ioc.Long, ioc.FuncSpec[int32]{}, body) }, "$(X)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := ioc.NewGroup("E:", nil)
			tc.build(g)
			if err := g.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFunctionCA(t *testing.T) {
	g := ioc.NewGroup("R:", nil)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	ioc.Func2(g, "ADD", ioc.Double, ioc.FuncSpec[float64]{},
		ioc.NewArg("A", ioc.Double, ioc.Spec[float64]{Value: 1}),
		ioc.NewArg("B", ioc.Double, ioc.Spec[float64]{Value: 2}),
		func(_ context.Context, a, b float64) (float64, error) { return a + b, nil })
	ioc.Func1(g, "DIV", ioc.Double, ioc.FuncSpec[float64]{},
		ioc.NewArg("X", ioc.Double, ioc.Spec[float64]{Value: 0}),
		func(_ context.Context, x float64) (float64, error) {
			if x == 0 {
				return 0, errors.New("division by zero")
			}
			return 1 / x, nil
		})
	ioc.Func0(g, "PANIC", ioc.Long, ioc.FuncSpec[int32]{}, func(context.Context) (int32, error) { panic("boom") })
	ioc.Func0(g, "CODE", ioc.Long, ioc.FuncSpec[int32]{}, func(context.Context) (int32, error) {
		return 0, eca.Errorf(eca.NoWtAccess, "own code")
	})
	slow := ioc.Func1(g, "SLOW", ioc.String, ioc.FuncSpec[string]{},
		ioc.NewArg("MSG", ioc.String, ioc.Spec[string]{Value: "first"}),
		func(ctx context.Context, msg string) (string, error) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return "got " + msg, nil
		})
	srv := serve(t, g)
	ctx := tctx(t)

	t.Run("success", func(t *testing.T) {
		a, b := connect(t, srv, "R:ADD:A"), connect(t, srv, "R:ADD:B")
		proc := connect(t, srv, "R:ADD:Process")
		if err := a.PutWait(ctx, dbr.Doubles{2.5}); err != nil {
			t.Fatal(err)
		}
		if err := b.PutWait(ctx, dbr.Strings{"4"}); err != nil {
			t.Fatal(err)
		}
		if err := proc.PutWait(ctx, dbr.Longs{1}); err != nil {
			t.Fatal(err)
		}
		if v, _, err := connect(t, srv, "R:ADD:Retval").Get(ctx, dbr.Double, 1); err != nil || v.(dbr.Doubles)[0] != 6.5 {
			t.Errorf("retval %v %v", v, err)
		}
		if s, md := getString(t, ctx, connect(t, srv, "R:ADD:Status")); s != ioc.FuncSuccess || md.Severity != dbr.SeverityNone {
			t.Errorf("status %q %v", s, md.Severity)
		}
		if v, _, err := proc.Get(ctx, dbr.Long, 1); err != nil || v.(dbr.Longs)[0] != 0 {
			t.Errorf("process after the call %v %v", v, err)
		}
	})

	errTests := []struct {
		fn     string
		want   eca.Code
		status string
	}{
		{"DIV", eca.PutFail, "Error: division by zero"},
		{"PANIC", eca.PutFail, "Error: panic: boom"},
		{"CODE", eca.PutFail, "Error: ECA_NOWTACCESS: own code"},
	}
	for _, tc := range errTests {
		t.Run(tc.fn, func(t *testing.T) {
			proc := connect(t, srv, "R:"+tc.fn+":Process")
			if got := code(proc.PutWait(ctx, dbr.Longs{1})); got != tc.want {
				t.Errorf("put status %v, want %v", got, tc.want)
			}
			s, md := getString(t, ctx, connect(t, srv, "R:"+tc.fn+":Status"))
			if s != tc.status || md.Severity != dbr.SeverityMajor || md.Status != dbr.StatusSoft {
				t.Errorf("status %q %v %v, want %q MAJOR SOFT", s, md.Status, md.Severity, tc.status)
			}
		})
	}
	// The server still serves after the failures.
	if err := connect(t, srv, "R:DIV:X").PutWait(ctx, dbr.Doubles{4}); err != nil {
		t.Fatal(err)
	}
	if err := connect(t, srv, "R:DIV:Process").PutWait(ctx, dbr.Longs{1}); err != nil {
		t.Fatal(err)
	}
	if s, md := getString(t, ctx, connect(t, srv, "R:DIV:Status")); s != ioc.FuncSuccess || md.Severity != dbr.SeverityNone {
		t.Errorf("status after recovery %q %v", s, md.Severity)
	}

	t.Run("busy", func(t *testing.T) {
		proc := connect(t, srv, "R:SLOW:Process")
		msg := connect(t, srv, "R:SLOW:MSG")
		done := make(chan error, 1)
		go func() { done <- proc.PutWait(ctx, dbr.Longs{1}) }()
		select {
		case <-entered:
		case <-ctx.Done():
			t.Fatal("function not called")
		}
		// A second call is rejected at once; reads answer during the call.
		other := connect(t, srv, "R:SLOW:Process")
		if got := code(other.PutWait(ctx, dbr.Longs{1})); got != eca.PutCBInProg {
			t.Errorf("second call: status %v, want ECA_PUTCBINPROG", got)
		}
		if v, _, err := other.Get(ctx, dbr.Long, 1); err != nil || v.(dbr.Longs)[0] != 1 {
			t.Errorf("process during the call %v %v", v, err)
		}
		if s, _ := getString(t, ctx, connect(t, srv, "R:SLOW:Status")); s != ioc.FuncRunning {
			t.Errorf("status during the call %q", s)
		}
		// An argument put during the call only affects the next call.
		if err := msg.PutWait(ctx, dbr.Strings{"second"}); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if slow.Retval.Value() != "got first" {
			t.Errorf("retval %q", slow.Retval.Value())
		}
		if st := slow.Stats(); st.Calls != 1 || st.Failures != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestFunctionCall(t *testing.T) {
	g := ioc.NewGroup("C:", nil)
	x := ioc.NewArg("X", ioc.Long, ioc.Spec[int32]{Value: 3})
	y := ioc.NewArg("Y", ioc.Char, ioc.Spec[string]{Value: "abc"})
	foreign := ioc.NewArg("Z", ioc.Long, ioc.Spec[int32]{})
	useForeign := false
	f := ioc.NewFunction(g, "F", ioc.Char, ioc.FuncSpec[string]{Timeout: time.Millisecond},
		func(ctx context.Context, c *ioc.Call) (string, error) {
			if useForeign {
				return fmt.Sprint(foreign.In(c)), nil
			}
			if x.In(c) < 0 {
				<-ctx.Done()
				return "", ctx.Err()
			}
			return strings.Repeat(y.In(c), int(x.In(c))), nil
		}, x, y)
	ioc.Func1(g, "G", ioc.Long, ioc.FuncSpec[int32]{}, foreign, func(_ context.Context, z int32) (int32, error) { return z, nil })
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := f.Call(t.Context()); err != nil || r != "abcabcabc" || f.Retval.Value() != r || f.Status.Value() != ioc.FuncSuccess {
		t.Errorf("call: %q %v, status %q", r, err, f.Status.Value())
	}
	if x.PV().Name() != "C:F:X" {
		t.Errorf("argument PV %q", x.PV().Name())
	}
	// The timeout cancels the function's context.
	if err := x.PV().Set(-1); err != nil {
		t.Fatal(err)
	}
	_, err := f.Call(t.Context())
	var ce *ioc.CallError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || eca.Of(err, eca.Internal) != eca.PutFail {
		t.Errorf("timed-out call: %v", err)
	}
	if !strings.HasPrefix(f.Status.Value(), ioc.FuncError+"context deadline") || f.Retval.Value() != "abcabcabc" {
		t.Errorf("status %q retval %q", f.Status.Value(), f.Retval.Value())
	}
	// An argument of another function is a run-time failure of the call.
	useForeign = true
	if _, err := f.Call(t.Context()); err == nil || !strings.Contains(err.Error(), `argument "Z" is not an argument of function "C:F:"`) {
		t.Errorf("foreign argument: %v", err)
	}
	if st := f.Stats(); st.Calls != 3 || st.Failures != 2 {
		t.Errorf("stats %+v", st)
	}
	if len(f.Status.Value()) > dbr.MaxStringSize-1 {
		t.Errorf("status longer than a DBR_STRING: %q", f.Status.Value())
	}
}
