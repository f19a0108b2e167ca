package ioc_test

import (
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/ca/ioc"
	"github.com/cabridge/cabridge/ca/macro"
)

func TestCommandMain(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	build := func(g *ioc.Group, m macro.Set) error {
		ioc.Double(g, "X$(N=1)", ioc.Spec[float64]{})
		if m["FAIL"] != "" {
			return errors.New("build failed")
		}
		return nil
	}
	var out strings.Builder
	cmd := ioc.Command{Name: "t", Prefix: "T:", Lookup: noEnv, Stdout: &out}
	if err := cmd.Main(context.Background(), []string{"--list-pvs", "--macro", "N=7"}, build); err != nil {
		t.Fatal(err)
	}
	if out.String() != "T:X7\n" {
		t.Errorf("--list-pvs printed %q, want T:X7", out.String())
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--list-pvs", "--macro", "FAIL=1"}, "build failed"},
		{[]string{"--no-such-flag"}, "flag provided but not defined"},
		{[]string{"--macro", "A"}, `"A" has no value`},
	} {
		err := cmd.Main(context.Background(), tt.args, build)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if err := cmd.Main(context.Background(), []string{"-h"}, build); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}
