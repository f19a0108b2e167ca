package main

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/cmd/cabridge/internal/conf"
)

// want is an expected problem: a "# want: TEXT" comment on line Line of a
// testdata/validate file expects an error at that line containing TEXT.
type want struct {
	line int
	text string
}

// readWants returns the expectations written into a file.
func readWants(t *testing.T, path string) []want {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []want
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if _, text, ok := strings.Cut(sc.Text(), "# want: "); ok {
			out = append(out, want{n, text})
		}
	}
	return out
}

// configErrors loads path and returns its problems, every one a
// *conf.Error.
func configErrors(t *testing.T, path string) []*conf.Error {
	t.Helper()
	ds, err := newDriverSet(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadConfig(path, ds, slog.New(slog.DiscardHandler))
	if err == nil {
		l.close()
		return nil
	}
	var out []*conf.Error
	for _, e := range flatten(err) {
		var ce *conf.Error
		if !errors.As(e, &ce) {
			t.Errorf("%v: not a *conf.Error (%T)", e, e)
			continue
		}
		out = append(out, ce)
	}
	return out
}

// TestValidateClasses checks one file per class of config error: each
// expected problem is reported at its line with its message and hint, and
// nothing else is reported.
func TestValidateClasses(t *testing.T) {
	files, err := filepath.Glob("testdata/validate/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			wants := readWants(t, path)
			got := configErrors(t, path)
			used := make([]bool, len(got))
			for _, w := range wants {
				found := false
				for i, e := range got {
					if !used[i] && e.Line == w.line && strings.Contains(e.Msg, w.text) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("missing at line %d: %q", w.line, w.text)
				}
			}
			for i, e := range got {
				if !used[i] {
					t.Errorf("unexpected: %v", e)
				}
				if !strings.HasPrefix(e.Error(), path+":") {
					t.Errorf("%q does not start with the file name", e.Error())
				}
			}
		})
	}
}

// TestConfigsValidate checks that every shipped example validates.
func TestConfigsValidate(t *testing.T) {
	files, err := filepath.Glob("../../configs/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, e := range configErrors(t, path) {
				t.Error(e)
			}
		})
	}
}

// TestValidateCommand runs cabridge validate: good files print ok, bad
// ones every problem with file and line, and the exit status is 1.
func TestValidateCommand(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"validate", "../../configs/demo.yaml", "testdata/validate/duplicates.yaml"}, &out, &errb, nil)
	if code := exitCode(err, &errb); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(out.String(), "../../configs/demo.yaml: ok (2 devices, 9 PVs)") {
		t.Errorf("stdout %q", out.String())
	}
	for _, w := range []string{
		"testdata/validate/duplicates.yaml: 2 problems",
		`testdata/validate/duplicates.yaml:6: devices[1] "oven": name: duplicate device name`,
		`testdata/validate/duplicates.yaml:12: pvs[1] "TEMP": name: duplicate PV name`,
	} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errb.String())
		}
	}
	if code := exitCode(run(t.Context(), []string{"validate"}, &out, &errb, nil), &errb); code != 2 {
		t.Errorf("validate without files: exit code %d, want 2", code)
	}
}

// TestRunRefusesBadConfig checks that the daemon does not start on an
// invalid config and says why.
func TestRunRefusesBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"run", "--config", "testdata/validate/missing.yaml"}, &out, &errb, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to start") ||
		!strings.Contains(err.Error(), "testdata/validate/missing.yaml:3:") {
		t.Errorf("run = %v", err)
	}
	err = run(t.Context(), []string{"run", "--config", "testdata/nope.yaml"}, &out, &errb, nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestEnvOverride checks CABRIDGE_ overrides: a valid one applies, a bad
// one is reported with its key.
func TestEnvOverride(t *testing.T) {
	t.Setenv("CABRIDGE_LOG_FORMAT", "json")
	ds, err := newDriverSet(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadConfig("../../configs/demo.yaml", ds, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.close()
	if l.cfg.Log.Format != "json" {
		t.Errorf("log.format = %q, want json from CABRIDGE_LOG_FORMAT", l.cfg.Log.Format)
	}
	t.Setenv("CABRIDGE_LOG_LEVEL", "loud")
	_, err = loadConfig("../../configs/demo.yaml", ds, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `log.level: unknown level "loud"`) {
		t.Errorf("bad override: %v", err)
	}
}
