package iocstats_test

import (
	"fmt"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/iocstats"
)

func Example() {
	var m ca.Map
	srv := &ca.Server{Directory: &m}
	st := iocstats.New("IOC:", srv.Stats)
	if err := st.AddTo(&m); err != nil {
		fmt.Println(err)
		return
	}
	// An IOC runs st.Run(ctx) in a goroutine; here one update by hand.
	st.Update()

	for _, name := range []string{"IOC:UPTIME", "IOC:CA_CLNT_CNT", "IOC:IOC_CPU_LOAD", "IOC:MEM_USED"} {
		pv, _ := m.Lookup(name)
		typ, _ := pv.Native()
		p := pv.Snapshot().Meta.Properties
		fmt.Printf("%s %v %q HIHI=%v\n", name, typ, p.Units, p.Limits.AlarmHigh)
	}
	hb, _ := m.Lookup("IOC:HEARTBEAT")
	fmt.Println("IOC:HEARTBEAT", hb.Snapshot().Value)
	// Output:
	// IOC:UPTIME DBR_STRING "" HIHI=NaN
	// IOC:CA_CLNT_CNT DBR_DOUBLE "" HIHI=175
	// IOC:IOC_CPU_LOAD DBR_DOUBLE "%" HIHI=80
	// IOC:MEM_USED DBR_DOUBLE "byte" HIHI=NaN
	// IOC:HEARTBEAT [1]
}
