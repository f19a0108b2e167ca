package conf

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// dur is a text-decoded duration, like drivers.Duration.
type dur time.Duration

func (d *dur) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = dur(v)
	return err
}

type inner struct {
	Address string            `json:"address"`
	Bit     *int              `json:"bit"`
	Scale   *float64          `json:"scale"`
	Options map[string]string `json:"options"`
}

type entry struct {
	Name    string          `json:"name"`
	Prec    int16           `json:"prec"`
	On      bool            `json:"on"`
	States  []string        `json:"states"`
	Timeout dur             `json:"timeout"`
	Binding inner           `json:"binding"`
	Raw     json.RawMessage `json:"config"`
}

type top struct {
	Macros string  `json:"macros"`
	PVs    []entry `json:"pvs"`
}

func parse(t *testing.T, name, text string) *File {
	t.Helper()
	f, err := Parse(name, []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestDecode decodes every kind of field, YAML's unquoted numbers into
// strings included, and keeps a raw section as JSON.
func TestDecode(t *testing.T) {
	f := parse(t, "a.yaml", `
macros: "P=X:"
pvs:
  - name: 400101
    prec: 3
    on: true
    states: [Off, On]
    timeout: 250ms
    binding: {address: hr:1, bit: 3, scale: 0.5, options: {padding: nul}}
    config: {Signals: [1, 2]}
`)
	var c top
	if err := f.Decode("", &c); err != nil {
		t.Fatal(err)
	}
	e := c.PVs[0]
	if c.Macros != "P=X:" || e.Name != "400101" || e.Prec != 3 || !e.On || len(e.States) != 2 ||
		time.Duration(e.Timeout) != 250*time.Millisecond || *e.Binding.Bit != 3 || *e.Binding.Scale != 0.5 ||
		e.Binding.Options["padding"] != "nul" || string(e.Raw) != `{"signals":[1,2]}` {
		t.Errorf("decoded %+v", c)
	}
}

// TestDecodeErrors reports every problem at its line and key path.
func TestDecodeErrors(t *testing.T) {
	f := parse(t, "b.yaml", `pvs:
  - name: [a]
    prec: 3.5
    on: maybe
    timeout: soon
    binding: {adress: x}
  - prec: 70000
    nope: 1
`)
	var c top
	err := f.Decode("", &c)
	want := map[string]int{
		"pvs[0].name: want a string":    2,
		"pvs[0].prec: want an integer":  3,
		"pvs[0].on: want true or false": 4,
		`pvs[0].timeout: "soon"`:        5,
		`pvs[0].binding.adress: unknown key "adress" (did you mean "address"?)`: 6,
		"pvs[1].prec: 70000 is out of range for int16":                          7,
		`pvs[1].nope: unknown key "nope"`:                                       8,
	}
	var n int
	for _, e := range flattenJoin(err) {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%T %v", e, e)
		}
		n++
		found := false
		for msg, line := range want {
			if strings.Contains(ce.Msg, msg) {
				found = true
				if ce.Line != line {
					t.Errorf("%q at line %d, want %d", ce.Msg, ce.Line, line)
				}
			}
		}
		if !found {
			t.Errorf("unexpected %v", ce)
		}
	}
	if n != len(want) {
		t.Errorf("%d errors, want %d: %v", n, len(want), err)
	}
	// What could be decoded was decoded.
	if len(c.PVs) != 2 || c.PVs[0].Binding.Address != "" {
		t.Errorf("partial decode %+v", c)
	}
}

func flattenJoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// TestFormats reads the same settings from TOML and JSON; JSON has lines,
// TOML does not.
func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
	}{
		{"c.json", "{\n  \"pvs\": [\n    {\"name\": \"A\", \"prec\": 2}\n  ]\n}", 3},
		{"c.toml", "[[pvs]]\nname = \"A\"\nprec = 2\n", 0},
	} {
		f := parse(t, tc.name, tc.text)
		var c top
		if err := f.Decode("", &c); err != nil || len(c.PVs) != 1 || c.PVs[0].Name != "A" || c.PVs[0].Prec != 2 {
			t.Errorf("%s: %+v %v", tc.name, c, err)
		}
		if got := f.Line("pvs[0].prec"); got != tc.line {
			t.Errorf("%s: line of pvs[0].prec = %d, want %d", tc.name, got, tc.line)
		}
	}
	if _, err := Parse("c.ini", nil, nil); err == nil || !strings.Contains(err.Error(), "unknown config format") {
		t.Errorf("ini: %v", err)
	}
	_, err := Parse("d.yaml", []byte("a: [\n"), nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line == 0 || !strings.HasPrefix(ce.Error(), "d.yaml:") {
		t.Errorf("syntax error: %v", err)
	}
}

// TestEnvOverride applies CABRIDGE_ variables to keys of the file and to
// the keys named.
func TestEnvOverride(t *testing.T) {
	t.Setenv("CABRIDGE_MACROS", "P=ENV:")
	t.Setenv("CABRIDGE_LOG_LEVEL", "debug")
	f, err := Parse("e.yaml", []byte("macros: \"P=FILE:\"\n"), []string{"log.level"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Value("macros") != "P=ENV:" || f.Value("log.level") != "debug" {
		t.Errorf("settings %v", f.Settings)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"adress", "address", 1}, {"singals", "signals", 2}, {"abc", "", 3}, {"kitten", "sitting", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// FuzzDecode feeds arbitrary YAML through parsing and strict decoding:
// errors are fine, panics are not, and every error names the file.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"pvs:\n  - name: A\n    prec: 2\n",
		"pvs: [{name: [1], binding: {bit: x}}]",
		"macros: 1\npvs: {a: 1}",
		"pvs:\n  - timeout: 1h\n    config: {x: [1, {y: 2}]}",
		"- 1\n- 2",
		"a: &x [*x]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		var c top
		for _, e := range flattenJoin(file.Decode("", &c)) {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
				t.Fatalf("error without the file name: %v", e)
			}
		}
	})
}
