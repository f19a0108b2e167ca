package access_test

import (
	"fmt"
	"strings"

	"github.com/cabridge/cabridge/ca/access"
)

func Example() {
	const acf = `
UAG(ops) {alice}
HAG(consoles) {opi1}
ASG(DEFAULT) {
	RULE(1, READ)
	RULE(1, WRITE) {
		UAG(ops)
		HAG(consoles)
	}
}
ASG(LOCKED)
`
	cfg, err := access.Parse(strings.NewReader(acf), "example.acf")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Rights("DEFAULT", "alice", "OPI1"))
	fmt.Println(cfg.Rights("motors", "alice", "laptop")) // undefined group: DEFAULT
	fmt.Println(cfg.Rights("LOCKED", "alice", "opi1"))

	_, err = access.Parse(strings.NewReader("ASG(A) {\n\tRULE(1, WRITE) {\n\t\tCALC(\"A=1\")\n\t}\n}"), "bad.acf")
	fmt.Println(err)
	// Output:
	// READ|WRITE
	// READ
	// NONE
	// access: bad.acf:3:3: CALC is not supported (rules that depend on PV values)
}
