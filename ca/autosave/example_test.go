package autosave_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/autosave"
)

func Example() {
	dir, err := os.MkdirTemp("", "autosave-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "settings.sav")

	// The first run of the IOC: the setpoints change, and are saved. In an
	// IOC, Run(ctx) saves them as they change and once more at exit.
	sp := ca.NewDouble(ca.Options{}, 20)
	mode := ca.NewEnum(ca.Options{}, []string{"Manual", "Auto"}, 0)
	note := ca.NewString(ca.Options{}, "")
	s, err := autosave.New(autosave.Config{Path: path, PVs: []autosave.Entry{
		{Name: "TEMP:SP", PV: sp}, {Name: "TEMP:MODE", PV: mode}, {Name: "TEMP:NOTE", PV: note},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	sp.Set(21.5)
	mode.Set(1)
	_ = note.Set(`tuned "by hand"`)
	if err := s.Save(); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "# saved ") { // skip the time stamp
			fmt.Println(line)
		}
	}

	// The next run: fresh PVs, restored from the file before serving.
	sp2 := ca.NewDouble(ca.Options{}, 20)
	mode2 := ca.NewEnum(ca.Options{}, []string{"Manual", "Auto"}, 0)
	note2 := ca.NewString(ca.Options{}, "")
	s2, err := autosave.New(autosave.Config{Path: path, PVs: []autosave.Entry{
		{Name: "TEMP:SP", PV: sp2}, {Name: "TEMP:MODE", PV: mode2}, {Name: "TEMP:NOTE", PV: note2},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s2.Restore(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sp2.Value(), mode2.Value(), note2.Value())
	// Output:
	// # cabridge autosave 1
	// TEMP:SP double 21.5
	// TEMP:MODE enum 1 # "Auto"
	// TEMP:NOTE string "tuned \"by hand\""
	// <END>
	//
	// 21.5 1 tuned "by hand"
}
