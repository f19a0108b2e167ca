package macro_test

import (
	"errors"
	"fmt"

	"github.com/cabridge/cabridge/ca/macro"
)

func Example() {
	base, err := macro.Parse(`P=XF:31ID:, DEV="motor 1"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A nested group extends its parent's macros.
	m := base.With(macro.Set{"R": "$(P)m$(N=1)"})
	for _, text := range []string{"$(R):RBV", "${P}{$(DEV)}", `cost \$(P)`, "$(P)$(AXIS)"} {
		out, err := m.Expand(text)
		var ue *macro.UnresolvedError
		if errors.As(err, &ue) {
			fmt.Println("unresolved:", ue.Names)
			continue
		}
		fmt.Println(out)
	}
	// Output:
	// XF:31ID:m1:RBV
	// XF:31ID:{motor 1}
	// cost $(P)
	// unresolved: [AXIS]
}
