package ca_test

import (
	"log"
	"strings"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/access"
)

// Access security from an ACF, with PVs assigned to groups by name, and
// rules replaced while clients are connected (for example on SIGHUP).
func ExampleServer_SetAccessRules() {
	var m ca.Map
	_ = m.Add("DEMO:SETPOINT", ca.NewDouble(ca.Options{}, 0))
	_ = m.Add("DEMO:SECRET", ca.NewDouble(ca.Options{}, 0))
	rules, err := access.Parse(strings.NewReader(`
UAG(ops) {alice}
ASG(DEFAULT) {
	RULE(1, READ)
	RULE(1, WRITE) { UAG(ops) }
}
ASG(HIDDEN) { RULE(1, NONE) }
`), "demo.acf")
	if err != nil {
		log.Fatal(err)
	}
	srv := &ca.Server{
		Directory:   &m,
		AccessRules: rules,
		AccessGroup: func(name string, _ ca.PV) string {
			if strings.HasSuffix(name, ":SECRET") {
				return "HIDDEN"
			}
			return "" // DEFAULT
		},
	}
	// Later, at run time: connected clients get ACCESS_RIGHTS for every
	// channel whose rights change.
	srv.SetAccessRules(access.RulesFunc(func(group, user, host string) access.Rights {
		if group == "HIDDEN" {
			return access.None
		}
		return access.ReadWrite
	}))
	// Or from a file, keeping the rules in force if it does not parse:
	if err := srv.LoadAccessFile("/etc/ioc/access.acf"); err != nil {
		log.Print(err)
	}
}
