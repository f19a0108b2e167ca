// Command rpc is an IOC that exposes RPC-like functions as PVs (the Go
// counterpart of caproto's pvfunction example): $(P)ADD adds its
// arguments, $(P)DIV divides them and fails on a division by zero.
//
//	rpc --prefix LAB:RPC:
//	caput LAB:RPC:ADD:A 2; caput LAB:RPC:ADD:B 3
//	caput -c LAB:RPC:ADD:Process 1     # completes when the call returns
//	caget LAB:RPC:ADD:Retval LAB:RPC:ADD:Status
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// run parses args, declares the functions and serves them until ctx is
// done. listening, if not nil, gets the server once it listens.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer, listening func(*ca.Server)) error {
	cmd := ioc.Command{Name: "rpc", Prefix: "RPC:", Lookup: lookup, Stdout: stdout, Stderr: stderr, Listening: listening}
	return cmd.Main(ctx, args, func(g *ioc.Group, _ macro.Set) error {
		declareFunctions(g)
		return nil
	})
}

// declareFunctions declares ADD (A+B) and DIV (A/B) in g.
func declareFunctions(g *ioc.Group) {
	ioc.Func2(g, "ADD", ioc.Double, ioc.FuncSpec[float64]{Doc: "A + B"},
		ioc.NewArg("A", ioc.Double, ioc.Spec[float64]{Value: 0, Doc: "first addend"}),
		ioc.NewArg("B", ioc.Double, ioc.Spec[float64]{Value: 0, Doc: "second addend"}),
		func(_ context.Context, a, b float64) (float64, error) { return a + b, nil })
	ioc.Func2(g, "DIV", ioc.Double, ioc.FuncSpec[float64]{Doc: "A / B"},
		ioc.NewArg("A", ioc.Double, ioc.Spec[float64]{Value: 1, Doc: "dividend"}),
		ioc.NewArg("B", ioc.Double, ioc.Spec[float64]{Value: 1, Doc: "divisor"}),
		func(_ context.Context, a, b float64) (float64, error) {
			if b == 0 {
				return 0, errors.New("division by zero")
			}
			return a / b, nil
		})
}
