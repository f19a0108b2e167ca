package record_test

import (
	"fmt"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/record"
)

func Example() {
	rt, _ := record.LookupType("ai")
	for _, name := range []string{"TEMP", "TEMP.DESC$", "TEMP.HHSV", "TEMP.PREC$"} {
		n, err := record.ParseName(name)
		if err != nil {
			fmt.Println(name, err)
			continue
		}
		ch, err := rt.Resolve(n.Field, n.Dollar)
		if err != nil {
			fmt.Println(name, err)
			continue
		}
		fmt.Println(name, "->", n, ch.Type, ch.Count, ch.Field.Access, ch.Field.Menu)
	}

	// An ai with HIGH 10 (MINOR), HYST 2: rising to 11 alarms, falling to 9
	// stays in alarm (within HYST of LALM), falling to 7.5 clears.
	lim := record.LimitAlarm{HIHI: 20, HIGH: 10, LOW: -10, LOLO: -20,
		HSV: dbr.SeverityMinor, HYST: 2}
	lalm := 0.0
	for _, v := range []float64{5, 11, 9, 7.5} {
		var a dbr.Alarm
		a, lalm = lim.Check(record.AlarmInput[float64]{VAL: v, LALM: lalm})
		fmt.Println(v, a, lalm)
	}
	// Output:
	// TEMP -> TEMP.VAL DBR_DOUBLE 1 read-write none
	// TEMP.DESC$ -> TEMP.DESC$ DBR_CHAR 41 read-write none
	// TEMP.HHSV -> TEMP.HHSV DBR_ENUM 1 read-write menuAlarmSevr
	// TEMP.PREC$ record: "$" applies only to string and link fields: PREC is DBF_SHORT
	// 5 NO_ALARM/NO_ALARM 5
	// 11 HIGH/MINOR 10
	// 9 HIGH/MINOR 10
	// 7.5 NO_ALARM/NO_ALARM 7.5
}
