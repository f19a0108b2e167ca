package catools_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
)

// stamp is the time every test PV reports.
var stamp = time.Date(2024, 5, 6, 7, 8, 9, 250_000_000, time.UTC) //nolint:gochecknoglobals // test constant

// testPVs returns the PVs of the tests, one of every native type.
func testPVs() map[string]ca.PV {
	clk := func() time.Time { return stamp }
	o := ca.Options{Clock: clk}
	ai := o
	ai.Units, ai.Precision = "degC", 2
	ai.Limits = dbr.Limits{DisplayHigh: 100, AlarmHigh: 90, WarningHigh: 80, WarningLow: 10, AlarmLow: 5, ControlHigh: 100}
	ro := o
	ro.ReadOnly = true
	alarm := ca.NewDouble(o, 95)
	alarm.SetAlarm(dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor})
	wf := o
	wf.MaxLength = 4
	str := o
	str.MaxLength = 32
	return map[string]ca.PV{
		"T:AI":      ca.NewDouble(ai, 21.5),
		"T:RO":      ca.NewDouble(ro, 1.5),
		"T:FLOAT":   ca.NewFloat(o, 0.25),
		"T:LONG":    ca.NewLong(o, -42),
		"T:SHORT":   ca.NewShort(o, 7),
		"T:BYTE":    ca.NewByte(o, 200),
		"T:MODE":    ca.NewEnum(o, []string{"Off", "On", "Standby"}, 1),
		"T:STR":     ca.NewString(o, "hello world"),
		"T:WF":      ca.NewDouble(wf, 1, 2.5, -3, 4),
		"T:LONGSTR": ca.NewChar(str, "a long\tstring"),
		"T:ALARM":   alarm,
		"T:SECRET":  noAccess{ca.NewDouble(o, 7)},
	}
}

// noAccess is a PV that grants no rights.
type noAccess struct{ *ca.Double }

// Access returns no rights.
func (noAccess) Access() ca.Access { return 0 }

// env turns KEY=VALUE pairs into a lookup function.
func env(kv []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for _, e := range kv {
			if name, v, ok := strings.Cut(e, "="); ok && name == k {
				return v, true
			}
		}
		return "", false
	}
}

// startServer serves testPVs and returns it with the client configuration
// its EPICS_CA_* variables give.
func startServer(t *testing.T) (*catest.Server, client.Config) {
	t.Helper()
	srv := catest.NewServer(t, testPVs())
	cfg, err := client.ConfigFromEnv(env(srv.Env()))
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

// runTool parses args for tool and runs it, with timestamps in UTC.
func runTool(ctx context.Context, cfg client.Config, lookup func(string) (string, bool), tool string, args []string) (string, string, error) {
	return runToolIn(ctx, cfg, lookup, time.UTC, tool, args)
}

// runToolLocal runs tool with timestamps in local time, as the tools print them.
func runToolLocal(ctx context.Context, cfg client.Config, tool string, args []string) (string, string, error) {
	return runToolIn(ctx, cfg, nil, nil, tool, args)
}

func runToolIn(ctx context.Context, cfg client.Config, lookup func(string) (string, bool), loc *time.Location, tool string, args []string) (string, string, error) {
	var out, errb bytes.Buffer
	var err error
	switch tool {
	case "get":
		var o catools.GetOptions
		var names []string
		if o, names, err = catools.ParseGet(args, lookup, &errb); err == nil {
			o.Format.Location = loc
			err = catools.Get(ctx, cfg, names, o, &out, &errb)
		}
	case "put":
		var o catools.PutOptions
		var name string
		var values []string
		if o, name, values, err = catools.ParsePut(args, lookup, &errb); err == nil {
			o.Format.Location = loc
			err = catools.Put(ctx, cfg, name, values, o, &out, &errb)
		}
	case "info":
		var o catools.InfoOptions
		var names []string
		if o, names, err = catools.ParseInfo(args, lookup, &errb); err == nil {
			err = catools.Info(ctx, cfg, names, o, &out, &errb)
		}
	}
	return out.String(), errb.String(), err
}

func TestTools(t *testing.T) {
	const ts = "2024-05-06 07:08:09.250000"
	tests := []struct {
		name    string
		tool    string
		args    []string
		want    string
		stderr  string // a substring of stderr
		wantErr error  // nil, ErrFailed or ErrHelp; "usage" errors are checked with UsageError
		usage   bool
	}{
		// get: formats
		{name: "get plain", tool: "get", args: []string{"T:AI", "T:FLOAT", "T:LONG", "T:SHORT", "T:BYTE", "T:MODE", "T:STR"},
			want: "T:AI                           21.5\nT:FLOAT                        0.25\nT:LONG                         -42\n" +
				"T:SHORT                        7\nT:BYTE                         -56\nT:MODE                         On\nT:STR                          hello world\n"},
		{name: "get array", tool: "get", args: []string{"T:WF"}, want: "T:WF 4 1 2.5 -3 4\n"},
		{name: "get count", tool: "get", args: []string{"-#", "2", "T:WF", "T:AI"}, want: "T:WF 2 1 2.5\nT:AI                           1 21.5\n"},
		{name: "get callback count", tool: "get", args: []string{"-c", "-#3", "T:WF"}, want: "T:WF 3 1 2.5 -3\n"},
		{name: "get terse", tool: "get", args: []string{"-t", "T:AI", "T:MODE"}, want: "21.5\nOn\n"},
		{name: "get enum as number", tool: "get", args: []string{"-n", "T:MODE"}, want: "T:MODE                         1\n"},
		{name: "get char array as string", tool: "get", args: []string{"-S", "T:LONGSTR"}, want: "T:LONGSTR a long\\tstring\n"},
		{name: "get char array", tool: "get", args: []string{"-#", "3", "T:LONGSTR"}, want: "T:LONGSTR 3 97 32 108\n"},
		{name: "get -f", tool: "get", args: []string{"-f3", "T:AI"}, want: "T:AI                           21.500\n"},
		{name: "get -e", tool: "get", args: []string{"-e", "2", "T:AI"}, want: "T:AI                           2.15e+01\n"},
		{name: "get -g", tool: "get", args: []string{"-g2", "T:AI"}, want: "T:AI                           22\n"},
		{name: "get -s", tool: "get", args: []string{"-s", "T:AI"}, want: "T:AI                           21.50\n"},
		{name: "get -0x", tool: "get", args: []string{"-0x", "T:LONG"}, want: "T:LONG                         0xFFFFFFD6\n"},
		{name: "get -lx", tool: "get", args: []string{"-lx", "T:AI"}, want: "T:AI                           0x16\n"},
		{name: "get -F", tool: "get", args: []string{"-F,", "T:WF"}, want: "T:WF,4,1,2.5,-3,4\n"},
		{name: "get wide", tool: "get", args: []string{"-a", "T:AI", "T:ALARM", "T:MODE", "T:WF"},
			want: "T:AI                           " + ts + " 21.5  \n" +
				"T:ALARM                        " + ts + " 95 HIHI MAJOR\n" +
				"T:MODE                         " + ts + " On  \n" +
				"T:WF " + ts + " 4 1 2.5 -3 4  \n"},
		{name: "get typed ctrl", tool: "get", args: []string{"-d", "DBR_CTRL_DOUBLE", "T:AI"},
			want: "T:AI\n    Native data type: DBF_DOUBLE\n    Request type:     DBR_CTRL_DOUBLE\n    Element count:    1\n" +
				"    Value:            21.5\n    Status:           NO_ALARM\n    Severity:         NO_ALARM\n    Units:            degC\n" +
				"    Precision:        2\n    Lo disp limit:    0\n    Hi disp limit:    100\n    Lo alarm limit:   5\n" +
				"    Lo warn limit:    10\n    Hi warn limit:    80\n    Hi alarm limit:   90\n    Lo ctrl limit:    0\n    Hi ctrl limit:    100\n"},
		{name: "get typed time short name", tool: "get", args: []string{"-d", "time_double", "T:ALARM"},
			want: "T:ALARM\n    Native data type: DBF_DOUBLE\n    Request type:     DBR_TIME_DOUBLE\n    Element count:    1\n" +
				"    Value:            95\n    Timestamp:        " + ts + "\n    Status:           HIHI\n    Severity:         MAJOR\n"},
		{name: "get typed gr enum by number", tool: "get", args: []string{"-d", "24", "T:MODE"},
			want: "T:MODE\n    Native data type: DBF_ENUM\n    Request type:     DBR_GR_ENUM\n    Element count:    1\n" +
				"    Value:            On\n    Status:           NO_ALARM\n    Severity:         NO_ALARM\n    Enums:            ( 3)\n" +
				"                      [ 0] Off\n                      [ 1] On\n                      [ 2] Standby\n"},
		{name: "get typed gr long", tool: "get", args: []string{"-d", "GR_LONG", "T:LONG"},
			want: "T:LONG\n    Native data type: DBF_LONG\n    Request type:     DBR_GR_LONG\n    Element count:    1\n" +
				"    Value:            -42\n    Status:           NO_ALARM\n    Severity:         NO_ALARM\n    Units:            \n" +
				"    Lo disp limit:           0\n    Hi disp limit:           0\n    Lo alarm limit:          0\n" +
				"    Lo warn limit:           0\n    Hi warn limit:           0\n    Hi alarm limit:          0\n"},
		{name: "get typed string", tool: "get", args: []string{"-d", "STRING", "T:WF"},
			want: "T:WF\n    Native data type: DBF_DOUBLE\n    Request type:     DBR_STRING\n    Element count:    4\n    Value:            1 3 -3 4\n"}, // the server's conversion, PREC 0
		{name: "get class name", tool: "get", args: []string{"-d", "DBR_CLASS_NAME", "T:AI"},
			want: "T:AI\n    Native data type: DBF_DOUBLE\n    Request type:     DBR_CLASS_NAME\n    Class Name:       ao\n"},
		// get: errors
		{name: "get no read access", tool: "get", args: []string{"T:SECRET", "T:AI"},
			want: "T:SECRET                       *** no read access\nT:AI                           21.5\n"},
		{name: "get wide no read access", tool: "get", args: []string{"-a", "T:SECRET"},
			want: "T:SECRET                       NOW *** no read access\n"},
		{name: "get typed no read access", tool: "get", args: []string{"-d", "DOUBLE", "T:SECRET"},
			want: "T:SECRET\n    *** no read access\n"},
		{name: "get missing PV", tool: "get", args: []string{"-w", "0.2", "T:AI", "T:NOPE"},
			stderr: "Channel connect timed out: some PV(s) not found.\n", wantErr: catools.ErrFailed},
		{name: "get one missing PV", tool: "get", args: []string{"-w0.2", "T:NOPE"},
			stderr: "Channel connect timed out: 'T:NOPE' not found.\n", wantErr: catools.ErrFailed},
		{name: "get bad type", tool: "get", args: []string{"-d", "DBR_NOPE", "T:AI"},
			want: "T:AI                           21.5\n", stderr: "Requested dbr type out of range or invalid - ignored."},
		{name: "get bad precision", tool: "get", args: []string{"-f", "x", "T:AI"},
			want: "T:AI                           21.5\n", stderr: "Invalid precision argument 'x' for option '-f' - ignored."},
		{name: "get exclusive formats", tool: "get", args: []string{"-t", "-a", "T:AI"},
			want: "T:AI                           " + ts + " 21.5  \n", stderr: "Options t,d,a are mutually exclusive."},
		{name: "get empty option arguments", tool: "get", args: []string{"-F", "", "-0", "", "-l", "", "T:WF"},
			want: "T:WF 4 1 2.5 -3 4\n", stderr: "Invalid argument '' for option '-0' - ignored."},
		{name: "get no PV", tool: "get", args: []string{"-t"}, usage: true},
		{name: "get unknown option", tool: "get", args: []string{"-z", "T:AI"}, usage: true},
		{name: "get help", tool: "get", args: []string{"-h"}, stderr: "Usage: cabridge get", wantErr: catools.ErrHelp},
		// put
		{name: "put", tool: "put", args: []string{"T:AI", "42.125"},
			want: "Old : T:AI                           21.5\nNew : T:AI                           42.125\n"},
		{name: "put callback", tool: "put", args: []string{"-c", "-w", "2", "T:AI", "-1e3"},
			want: "Old : T:AI                           21.5\nNew : T:AI                           -1000\n"},
		{name: "put terse", tool: "put", args: []string{"-t", "T:LONG", "17"}, want: "17\n"},
		{name: "put long format", tool: "put", args: []string{"-l", "T:SHORT", "3"},
			want: "Old : T:SHORT                        " + ts + " 7  \nNew : T:SHORT                        " + ts + " 3  \n"},
		{name: "put string joins args", tool: "put", args: []string{"T:STR", "two", "words"},
			want: "Old : T:STR                          hello world\nNew : T:STR                          two words\n"},
		{name: "put array", tool: "put", args: []string{"-a", "T:WF", "3", "9", "8", "7"},
			want: "Old : T:WF 4 1 2.5 -3 4\nNew : T:WF 4 9 8 7 0\n"},
		{name: "put char array as string", tool: "put", args: []string{"-S", "T:LONGSTR", `new\ttext`},
			want: "Old : T:LONGSTR a long\\tstring\nNew : T:LONGSTR new\\ttext\n"},
		{name: "put enum string", tool: "put", args: []string{"T:MODE", "Standby"},
			want: "Old : T:MODE                         On\nNew : T:MODE                         Standby\n"},
		{name: "put enum index", tool: "put", args: []string{"T:MODE", "0"},
			want: "Old : T:MODE                         On\nNew : T:MODE                         Off\n"},
		{name: "put enum -n", tool: "put", args: []string{"-n", "T:MODE", "2"},
			want: "Old : T:MODE                         1\nNew : T:MODE                         2\n"},
		{name: "put negative value", tool: "put", args: []string{"T:LONG", "-5"},
			want: "Old : T:LONG                         -42\nNew : T:LONG                         -5\n"},
		{name: "put bad enum", tool: "put", args: []string{"T:MODE", "Bogus"},
			stderr: "Enum string value 'Bogus' invalid.\n", wantErr: catools.ErrFailed},
		{name: "put enum -s refuses numbers", tool: "put", args: []string{"-s", "T:MODE", "1"},
			stderr: "Enum string value '1' invalid.\n", wantErr: catools.ErrFailed},
		{name: "put enum -n not a number", tool: "put", args: []string{"-n", "T:MODE", "On"},
			stderr: "Enum index value 'On' is not a number.\n", wantErr: catools.ErrFailed},
		{name: "put read-only", tool: "put", args: []string{"T:RO", "3"},
			want: "Old : T:RO                           1.5\n", stderr: "Error from put operation: Write access denied\n", wantErr: catools.ErrFailed},
		{name: "put bad value", tool: "put", args: []string{"T:AI", "abc"},
			want: "Old : T:AI                           21.5\nNew : T:AI                           21.5\n", stderr: "Error occured writing data: ECA_", wantErr: catools.ErrFailed},
		{name: "put callback bad value", tool: "put", args: []string{"-c", "T:AI", "abc"},
			want: "Old : T:AI                           21.5\n", stderr: "Error occured writing data: ", wantErr: catools.ErrFailed},
		{name: "put missing PV", tool: "put", args: []string{"-w", ".2", "T:NOPE", "1"},
			stderr: "Channel connect timed out: 'T:NOPE' not found.\n", wantErr: catools.ErrFailed},
		{name: "put no value", tool: "put", args: []string{"T:AI"}, usage: true},
		{name: "put no access", tool: "put", args: []string{"T:SECRET", "1"},
			want: "Old : T:SECRET                       *** no read access\n", stderr: "Error from put operation: Write access denied\n", wantErr: catools.ErrFailed},
		// info
		{name: "info", tool: "info", args: []string{"T:RO", "T:WF"},
			want: "T:RO\n    State:            connected\n    Host:             HOST\n    Access:           read, no write\n" +
				"    Native data type: DBF_DOUBLE\n    Request type:     DBR_DOUBLE\n    Element count:    1\n" +
				"T:WF\n    State:            connected\n    Host:             HOST\n    Access:           read, write\n" +
				"    Native data type: DBF_DOUBLE\n    Request type:     DBR_DOUBLE\n    Element count:    4\n"},
		{name: "info no access", tool: "info", args: []string{"T:SECRET"},
			want: "T:SECRET\n    State:            connected\n    Host:             HOST\n    Access:           no read, no write\n" +
				"    Native data type: DBF_DOUBLE\n    Request type:     DBR_DOUBLE\n    Element count:    1\n"},
		{name: "info missing PV", tool: "info", args: []string{"-w", "0.2", "T:NOPE"},
			stderr: "Channel connect timed out: 'T:NOPE' not found.\n", wantErr: catools.ErrFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, cfg := startServer(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, stderr, err := runTool(ctx, cfg, nil, tt.tool, tt.args)
			switch {
			case tt.usage:
				if !catools.UsageError(err) {
					t.Fatalf("err %v, want a usage error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err %v; stderr:\n%s", err, stderr)
			}
			want := strings.ReplaceAll(tt.want, "HOST", hostOf(srv))
			if i := strings.Index(want, "NOW"); i >= 0 && len(out) >= i+len(ts) {
				want = want[:i] + out[i:i+len(ts)] + want[i+3:] // the client's clock
			}
			if out != want {
				t.Errorf("stdout\n%s\nwant\n%s", out, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.stderr)
			}
		})
	}
}

// hostOf is the Host line cainfo shows for srv: libca's form, the name
// of 127.0.0.1 and the port.
func hostOf(srv *catest.Server) string {
	host := "127.0.0.1"
	if names, err := net.LookupAddr(host); err == nil && len(names) > 0 {
		host = strings.TrimSuffix(names[0], ".")
	}
	return host + ":" + strconv.Itoa(srv.TCPPort)
}

func TestTimeoutFromEnvironment(t *testing.T) {
	tests := []struct {
		env    []string
		args   []string
		want   time.Duration
		stderr string
	}{
		{nil, []string{"pv"}, time.Second, ""},
		{[]string{"EPICS_CLI_TIMEOUT=2.5"}, []string{"pv"}, 2500 * time.Millisecond, ""},
		{[]string{"EPICS_CLI_TIMEOUT=2.5"}, []string{"-w", "0.5", "pv"}, 500 * time.Millisecond, ""},
		{[]string{"EPICS_CLI_TIMEOUT=soon"}, []string{"pv"}, time.Second, "'soon' is not a valid timeout value (from 'EPICS_CLI_TIMEOUT'"},
		{nil, []string{"-w", "x", "pv"}, time.Second, "'x' is not a valid timeout value - ignored, using '1.0'."},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		o, _, err := catools.ParseGet(tt.args, env(tt.env), &errb)
		if err != nil {
			t.Fatal(err)
		}
		if o.Timeout != tt.want || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v %v: timeout %v, stderr %q; want %v, %q", tt.env, tt.args, o.Timeout, errb.String(), tt.want, tt.stderr)
		}
	}
}

// TestNameServer finds the PVs through EPICS_CA_NAME_SERVERS only.
func TestNameServer(t *testing.T) {
	srv := catest.NewServer(t, testPVs())
	cfg, err := client.ConfigFromEnv(env(srv.NameServerEnv()))
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runTool(t.Context(), cfg, nil, "info", []string{"T:AI"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if want := "    Host:             " + hostOf(srv) + "\n"; !strings.Contains(out, want) {
		t.Errorf("output\n%s\nlacks %q", out, want)
	}
	out, _, err = runTool(t.Context(), cfg, nil, "get", []string{"T:AI"})
	if err != nil || out != "T:AI                           21.5\n" {
		t.Errorf("get: %q, %v", out, err)
	}
}

// TestNoSearchAddress: with nowhere to search the tools fail at once,
// naming the channels, as libca's tools do.
func TestNoSearchAddress(t *testing.T) {
	for _, tool := range []string{"get", "info"} {
		out, stderr, err := runTool(t.Context(), client.Config{}, nil, tool, []string{"A", "B"})
		if !errors.Is(err, catools.ErrFailed) || out != "" {
			t.Errorf("%s: %q, %v", tool, out, err)
		}
		want := "CA error Empty PV search address list occurred while trying to create channel 'A'.\n" +
			"CA error Empty PV search address list occurred while trying to create channel 'B'.\n"
		if stderr != want {
			t.Errorf("%s: stderr %q, want %q", tool, stderr, want)
		}
	}
}
