package ioc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
)

// The texts of a Function's status PV. A failed call shows FuncError
// followed by the error message, cut to fit a DBR_STRING.
const (
	FuncIdle    = "Idle"
	FuncRunning = "Running"
	FuncSuccess = "Success"
	FuncError   = "Error: "
)

// The default names of a Function's PVs, as in caproto's pvfunction.
const (
	DefaultProcessName = "Process"
	DefaultStatusName  = "Status"
	DefaultRetvalName  = "Retval"
)

// FuncNames are the names of a Function's own PVs within its prefix; an
// empty name selects the default (DefaultProcessName and so on).
type FuncNames struct {
	Process, Status, Retval string
}

// FuncSpec declares a Function (caproto's pvfunction). The zero FuncSpec
// is valid.
type FuncSpec[R any] struct {
	// Doc describes the function; it is the doc string of the process PV.
	Doc string
	// Retval declares the return-value PV: its initial value (the
	// caproto "default") and metadata. The PV is read-only whatever
	// Retval.ReadOnly says, and must be a scalar without put hooks.
	Retval Spec[R]
	// Names overrides the names of the process, status and return-value
	// PVs.
	Names FuncNames
	// Timeout, if positive, bounds each call: the function's context is
	// cancelled after it. The function must return when its context is
	// done for the timeout to end the call.
	Timeout time.Duration
}

// Function is an RPC-like function exposed as PVs under a prefix (the Go
// counterpart of caproto's pvfunction). NewFunction or Func0..Func3 in a
// group with prefix P and function name NAME declare:
//
//   - one writable PV per argument, P+NAME:ARG, typed and with a default
//     (see Arg);
//   - P+NAME:Process, a DBR_LONG: any CA put to it calls the function with
//     the current argument values, and the put (and its put callback)
//     completes when the call returns. It reads 1 while a call runs, 0
//     otherwise;
//   - P+NAME:Status, a read-only DBR_STRING: FuncIdle at first,
//     FuncRunning during a call, then FuncSuccess or FuncError followed by
//     the error message (cut to 39 bytes; the status PV then also has a
//     MAJOR SOFT alarm);
//   - P+NAME:Retval, read-only, of the return type R, set when a call
//     succeeds.
//
// Calls do not overlap: a put to Process while a call runs is rejected
// at once with ECA_PUTCBINPROG (a *BusyError), and the running call goes
// on. A call that returns an error or panics fails the put with
// ECA_PUTFAIL, and the server keeps serving. The argument values are read
// once when the call starts, so a put to an argument during a call
// affects the next call only.
//
// A Function is declared while its group is built; its methods are safe
// for concurrent use once the IOC runs.
type Function[R any] struct {
	// Process is the PV whose CA put calls the function.
	Process *PV[int32]
	// Status is the PV that reports the state of the last call.
	Status *PV[string]
	// Retval is the PV that holds the value of the last successful call.
	Retval *PV[R]

	name    string
	args    []Argument
	body    func(ctx context.Context, c *Call) (R, error)
	timeout time.Duration
	busy    atomic.Bool
	calls   atomic.Uint64
	fails   atomic.Uint64
}

// Argument is an argument of a Function: an *Arg of any element type. It
// has unexported methods: only *Arg implements it.
type Argument interface {
	// bind declares the argument's PV in g (the function's group) for
	// the function named fn; it returns an error if the argument is
	// already bound.
	bind(g *Group, fn string)
	// current returns the argument's value now.
	current() any
	// argName returns the argument's name.
	argName() string
}

// Arg is an argument of a Function with element type E: a scalar PV
// NAME:ARG whose value is passed to the function. Create it with NewArg
// and give it to exactly one NewFunction or FuncN call.
type Arg[E any] struct {
	name    string
	declare func(*Group, string, Spec[E]) *PV[E]
	spec    Spec[E]
	pv      *PV[E]
	fn      string
}

// Interface guard.
var _ Argument = (*Arg[float64])(nil)

// NewArg returns an argument named name, declared with declare (Double,
// Long, String, ...) and spec when it is given to a function. spec.Value
// is the default; spec may have a put hook to validate values. The
// argument must be a scalar (a long string declared with Char is one).
func NewArg[E any](name string, declare func(*Group, string, Spec[E]) *PV[E], spec Spec[E]) *Arg[E] {
	return &Arg[E]{name: name, declare: declare, spec: spec}
}

// bind implements Argument.
func (a *Arg[E]) bind(g *Group, fn string) {
	if a.pv != nil {
		full, _ := g.Expand(a.name)
		g.fail(fmt.Errorf("ioc: PV %q: argument %q already belongs to function %q", full, a.name, a.fn))
		return
	}
	a.fn = fn
	a.pv = a.declare(g, a.name, a.spec)
	if a.pv != nil && !a.pv.scalar {
		g.fail(fmt.Errorf("ioc: PV %q: function argument is an array; arguments are scalars", a.pv.name))
	}
}

// current implements Argument.
func (a *Arg[E]) current() any { return a.pv.Value() }

// argName implements Argument.
func (a *Arg[E]) argName() string { return a.name }

// PV returns the argument's PV, or nil before the argument is given to a
// function.
func (a *Arg[E]) PV() *PV[E] { return a.pv }

// In returns the value of a in the call c: the value its PV had when the
// call started. If a is not an argument of c's function (a programming
// error) it returns the zero value and the call fails with an error naming
// the argument, whatever the body returns.
func (a *Arg[E]) In(c *Call) E {
	v, ok := c.args[a]
	if !ok {
		if c.misuse == nil {
			c.misuse = fmt.Errorf("ioc: argument %q is not an argument of function %q", a.name, c.fn)
		}
		var zero E
		return zero
	}
	return v.(E)
}

// Call is one call of a Function: the argument values read when it
// started. Arg.In returns them.
type Call struct {
	fn     string
	args   map[Argument]any
	misuse error // set by In for an argument of another function
}

// Func returns the full name of the function's prefix (P+NAME:).
func (c *Call) Func() string { return c.fn }

// BusyError is the error of a call made while another call of the same
// function runs. It gives the CA client ECA_PUTCBINPROG.
type BusyError struct {
	// Func is the function's prefix (P+NAME:).
	Func string
}

// Error returns a message naming the function.
func (e *BusyError) Error() string {
	return fmt.Sprintf("ioc: function %q: a call is already in progress", e.Func)
}

// ECA returns ECA_PUTCBINPROG; eca.Of uses it.
func (e *BusyError) ECA() eca.Code { return eca.PutCBInProg }

// CallError is the error of a call whose function returned an error or
// panicked. It gives the CA client ECA_PUTFAIL whatever the function's
// error says.
type CallError struct {
	// Func is the function's prefix (P+NAME:).
	Func string
	// Err is the function's error, or describes its panic.
	Err error
}

// Error returns the function's name and error.
func (e *CallError) Error() string { return fmt.Sprintf("ioc: function %q: %v", e.Func, e.Err) }

// Unwrap returns the function's error.
func (e *CallError) Unwrap() error { return e.Err }

// ECA returns ECA_PUTFAIL.
func (e *CallError) ECA() eca.Code { return eca.PutFail }

// FuncStats are the counters of a Function.
type FuncStats struct {
	Calls    uint64 // calls started (not counting rejected ones)
	Failures uint64 // calls that returned an error or panicked
}

// NewFunction declares the function name in g (see Function): its
// arguments args, its process, status and return-value PVs (the latter
// declared with ret: Double, Long, String, ...) and its body f, which
// reads the arguments with Arg.In. The PVs are named with the prefix
// name+":" in g, or directly in g if name is empty. Func0..Func3 are
// shorter for functions with few arguments.
func NewFunction[R any](g *Group, name string, ret func(*Group, string, Spec[R]) *PV[R], spec FuncSpec[R],
	f func(ctx context.Context, c *Call) (R, error), args ...Argument) *Function[R] {
	fg := g
	if name != "" {
		fg = g.Sub(name+":", nil)
	}
	full, err := fg.Expand("")
	if err != nil {
		full = fg.prefix // the error is reported by the PVs' declarations
	}
	fn := &Function[R]{name: full, args: args, body: f, timeout: spec.Timeout}
	if f == nil {
		g.fail(fmt.Errorf("ioc: function %q: no function body", full))
	}
	names := spec.Names
	names.Process = cmp.Or(names.Process, DefaultProcessName)
	names.Status = cmp.Or(names.Status, DefaultStatusName)
	names.Retval = cmp.Or(names.Retval, DefaultRetvalName)
	seen := map[string]bool{names.Process: true, names.Status: true, names.Retval: true}
	if len(seen) != 3 {
		g.fail(fmt.Errorf("ioc: function %q: process, status and return-value PVs need distinct names", full))
	}
	for _, a := range args {
		if a == nil {
			g.fail(fmt.Errorf("ioc: function %q: nil argument", full))
			continue
		}
		if seen[a.argName()] {
			g.fail(fmt.Errorf("ioc: function %q: argument %q clashes with another PV of the function", full, a.argName()))
		}
		seen[a.argName()] = true
		a.bind(fg, full)
	}
	doc := spec.Doc
	if doc == "" {
		doc = "call " + full
	}
	fn.Process = Long(fg, names.Process, Spec[int32]{Doc: doc,
		Put: func(ctx context.Context, _ *PV[int32], _ int32) (int32, error) {
			_, err := fn.Call(ctx)
			if ce := (*CallError)(nil); errors.As(err, &ce) {
				// ECA_PUTFAIL even if the function's error carries a code.
				return 0, &eca.Error{Code: eca.PutFail, Msg: ce.Error()}
			}
			return 0, err
		}})
	fn.Status = String(fg, names.Status, Spec[string]{Value: FuncIdle, ReadOnly: true,
		Doc: "status of the last call of " + full})
	rs := spec.Retval
	rs.ReadOnly = true
	if rs.Doc == "" {
		rs.Doc = "return value of " + full
	}
	fn.Retval = ret(fg, names.Retval, rs)
	if fn.Retval != nil && !fn.Retval.scalar {
		g.fail(fmt.Errorf("ioc: PV %q: return value is an array; it must be a scalar", fn.Retval.name))
	}
	return fn
}

// Name returns the full prefix of the function's PVs (P+NAME:).
func (fn *Function[R]) Name() string { return fn.name }

// Stats returns the function's counters.
func (fn *Function[R]) Stats() FuncStats {
	return FuncStats{Calls: fn.calls.Load(), Failures: fn.fails.Load()}
}

// Call calls the function as a CA put to its process PV does, with the
// current argument values, and updates the process, status and
// return-value PVs. It returns a *BusyError at once if a call is in
// progress, and a *CallError if the function fails or panics. ctx is
// the function's context (bounded by FuncSpec.Timeout).
func (fn *Function[R]) Call(ctx context.Context) (R, error) {
	var zero R
	if !fn.busy.CompareAndSwap(false, true) {
		return zero, &BusyError{Func: fn.name}
	}
	defer fn.busy.Store(false)
	fn.calls.Add(1)
	c := &Call{fn: fn.name, args: make(map[Argument]any, len(fn.args))}
	for _, a := range fn.args {
		c.args[a] = a.current()
	}
	fn.setStatus(FuncRunning, dbr.Alarm{})
	_ = fn.Process.Set(1) // cannot fail: a scalar long
	if fn.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, fn.timeout)
		defer cancel()
	}
	r, err := fn.invoke(ctx, c)
	if err == nil {
		if serr := fn.Retval.Set(r); serr != nil {
			err = fmt.Errorf("return value: %w", serr)
		}
	}
	if err != nil {
		fn.fails.Add(1)
		fn.setStatus(FuncError+err.Error(), dbr.Alarm{Status: dbr.StatusSoft, Severity: dbr.SeverityMajor})
		_ = fn.Process.Set(0)
		return zero, &CallError{Func: fn.name, Err: err}
	}
	fn.setStatus(FuncSuccess, dbr.Alarm{})
	_ = fn.Process.Set(0)
	return r, nil
}

// invoke calls the body, turning a panic into an error.
func (fn *Function[R]) invoke(ctx context.Context, c *Call) (r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	r, err = fn.body(ctx, c)
	if c.misuse != nil {
		return r, c.misuse
	}
	return r, err
}

// setStatus shows text (cut to fit a DBR_STRING, at its first line) and
// alarm a on the status PV.
func (fn *Function[R]) setStatus(text string, a dbr.Alarm) {
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			text = text[:i]
			break
		}
	}
	const maxLen = dbr.MaxStringSize - 1
	if len(text) > maxLen {
		n := maxLen
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	_ = fn.Status.Post(ca.Post[string]{Values: []string{text}, Alarm: &a})
}

// Func0 declares a function without arguments; see NewFunction.
func Func0[R any](g *Group, name string, ret func(*Group, string, Spec[R]) *PV[R], spec FuncSpec[R],
	f func(ctx context.Context) (R, error)) *Function[R] {
	var body func(ctx context.Context, c *Call) (R, error)
	if f != nil {
		body = func(ctx context.Context, _ *Call) (R, error) { return f(ctx) }
	}
	return NewFunction(g, name, ret, spec, body)
}

// Func1 declares a function of one argument; see NewFunction.
func Func1[A, R any](g *Group, name string, ret func(*Group, string, Spec[R]) *PV[R], spec FuncSpec[R],
	a *Arg[A], f func(ctx context.Context, a A) (R, error)) *Function[R] {
	var body func(ctx context.Context, c *Call) (R, error)
	if f != nil {
		body = func(ctx context.Context, c *Call) (R, error) { return f(ctx, a.In(c)) }
	}
	return NewFunction(g, name, ret, spec, body, a)
}

// Func2 declares a function of two arguments; see NewFunction.
func Func2[A, B, R any](g *Group, name string, ret func(*Group, string, Spec[R]) *PV[R], spec FuncSpec[R],
	a *Arg[A], b *Arg[B], f func(ctx context.Context, a A, b B) (R, error)) *Function[R] {
	var body func(ctx context.Context, c *Call) (R, error)
	if f != nil {
		body = func(ctx context.Context, c *Call) (R, error) { return f(ctx, a.In(c), b.In(c)) }
	}
	return NewFunction(g, name, ret, spec, body, a, b)
}

// Func3 declares a function of three arguments; see NewFunction.
func Func3[A, B, C, R any](g *Group, name string, ret func(*Group, string, Spec[R]) *PV[R], spec FuncSpec[R],
	a *Arg[A], b *Arg[B], c *Arg[C], f func(ctx context.Context, a A, b B, c C) (R, error)) *Function[R] {
	var body func(ctx context.Context, c *Call) (R, error)
	if f != nil {
		body = func(ctx context.Context, cl *Call) (R, error) { return f(ctx, a.In(cl), b.In(cl), c.In(cl)) }
	}
	return NewFunction(g, name, ret, spec, body, a, b, c)
}
