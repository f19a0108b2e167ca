package ioc_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

// A group type instantiated twice with different macros, a put hook that
// rejects some values and transforms others, and a setpoint/readback pair.
func Example() {
	power := func(m macro.Set) *ioc.Group {
		g := ioc.NewGroup("$(P)PS$(N):", m)
		ioc.Double(g, "VOLT", ioc.Spec[float64]{Units: "V", Precision: 2, Record: "ao",
			Put: func(_ context.Context, _ *ioc.PV[float64], v float64) (float64, error) {
				if v < 0 {
					return 0, errors.New("negative voltage")
				}
				return min(v, 30), nil // clamp to the supply's range
			}})
		ioc.DeclarePair(g, "CURR", ioc.Double, ioc.Spec[float64]{Units: "A"}, ioc.Follow)
		return g
	}
	ps1 := power(macro.Set{"P": "LAB:", "N": "1"})
	ps2 := power(macro.Set{"P": "LAB:", "N": "2"})
	fmt.Println(ps1.Names(), ps2.Names())

	pvs, err := ps1.PVs()
	if err != nil {
		fmt.Println(err)
		return
	}
	volt := pvs["LAB:PS1:VOLT"]
	ctx := context.Background()
	fmt.Println(volt.Put(ctx, dbr.Doubles{-1}))
	fmt.Println(volt.Put(ctx, dbr.Strings{"42"}), volt.Snapshot().Value)

	bad := ioc.NewGroup("$(P)X:", nil)
	ioc.Long(bad, "COUNT", ioc.Spec[int32]{})
	fmt.Println(bad.Err())
	// Output:
	// [LAB:PS1:VOLT LAB:PS1:CURR LAB:PS1:CURR_RBV] [LAB:PS2:VOLT LAB:PS2:CURR LAB:PS2:CURR_RBV]
	// negative voltage
	// <nil> [30]
	// ioc: PV "$(P)X:COUNT": macro: undefined macro "P" in "$(P)X:COUNT"
}
