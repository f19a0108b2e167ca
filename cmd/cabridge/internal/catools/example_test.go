package catools_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/cmd/cabridge/internal/catools"
)

// exampleServer serves a few PVs on 127.0.0.1 and returns the client
// configuration that finds them (normally client.ConfigFromEnv gives it)
// and a function that stops the server.
func exampleServer() (client.Config, *ca.Double, func(), error) {
	clk := func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC) }
	temp := ca.NewDouble(ca.Options{Clock: clk, Units: "degC", Precision: 1}, 21.5)
	m := &ca.Map{}
	for name, pv := range map[string]ca.PV{
		"DEMO:TEMP":  temp,
		"DEMO:MODE":  ca.NewEnum(ca.Options{Clock: clk}, []string{"Off", "On"}, 1),
		"DEMO:WAVE":  ca.NewLong(ca.Options{Clock: clk}, 1, 2, 3),
		"DEMO:TITLE": ca.NewChar(ca.Options{Clock: clk, MaxLength: 32}, "oven 1"),
	} {
		if err := m.Add(name, pv); err != nil {
			return client.Config{}, nil, nil, err
		}
	}
	srv := &ca.Server{Directory: m, Config: ca.Config{Interfaces: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Port: -1}}
	if err := srv.Listen(); err != nil {
		return client.Config{}, nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(context.Background()) })
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		wg.Wait()
	}
	return client.Config{AddrList: []string{srv.UDPAddr().String()}}, temp, stop, nil
}

func ExampleGet() {
	cfg, _, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx := context.Background()
	for _, args := range [][]string{
		{"DEMO:TEMP", "DEMO:MODE", "DEMO:WAVE"},
		{"-a", "-S", "DEMO:TEMP", "DEMO:TITLE"},
		{"-t", "-f3", "-n", "DEMO:TEMP", "DEMO:MODE"},
	} {
		o, names, err := catools.ParseGet(args, nil, os.Stderr)
		if err != nil {
			fmt.Println(err)
			return
		}
		o.Format.Location = time.UTC // the tools print local time
		if err := catools.Get(ctx, cfg, names, o, trimmed{}, os.Stderr); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// DEMO:TEMP                      21.5
	// DEMO:MODE                      On
	// DEMO:WAVE 3 1 2 3
	// DEMO:TEMP                      2024-05-06 07:08:09.500000 21.5
	// DEMO:TITLE 2024-05-06 07:08:09.500000 oven 1
	// 21.500
	// 1
}

func ExamplePut() {
	cfg, _, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx := context.Background()
	for _, args := range [][]string{
		{"-c", "DEMO:TEMP", "23.25"},
		{"DEMO:MODE", "Off"},
		{"-a", "DEMO:WAVE", "2", "7", "8"},
		{"DEMO:NOPE", "1"},
	} {
		o, name, values, err := catools.ParsePut(args, nil, os.Stderr)
		if err != nil {
			fmt.Println(err)
			return
		}
		o.Timeout = 200 * time.Millisecond
		if err := catools.Put(ctx, cfg, name, values, o, os.Stdout, os.Stdout); err != nil {
			fmt.Println("error:", err)
		}
	}
	// Output:
	// Old : DEMO:TEMP                      21.5
	// New : DEMO:TEMP                      23.25
	// Old : DEMO:MODE                      On
	// New : DEMO:MODE                      Off
	// Old : DEMO:WAVE 3 1 2 3
	// New : DEMO:WAVE 3 7 8 0
	// Channel connect timed out: 'DEMO:NOPE' not found.
	// error: channel connect timed out: not found: DEMO:NOPE
}

// stopAfter is a writer that passes output on and calls stop once it has
// seen n lines.
type stopAfter struct {
	buf  bytes.Buffer
	n    int
	stop func()
}

func (w *stopAfter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if bytes.Count(w.buf.Bytes(), []byte("\n")) >= w.n {
		w.stop()
	}
	return len(p), nil
}

func ExampleMonitor() {
	cfg, temp, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	o, names, err := catools.ParseMonitor([]string{"-m", "va", "DEMO:TEMP"}, nil, os.Stderr)
	if err != nil {
		fmt.Println(err)
		return
	}
	o.Format.Location = time.UTC
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &stopAfter{n: 2, stop: cancel}
	first := &stopAfter{n: 1, stop: func() {
		// A new value in alarm: one update.
		_ = temp.Post(ca.Post[float64]{Values: []float64{95}, Alarm: &dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.SeverityMajor}})
	}}
	w := writerFunc(func(p []byte) (int, error) {
		_, _ = first.Write(p)
		return out.Write(p)
	})
	// Monitor returns when ctx ends, here after two lines.
	if err := catools.Monitor(ctx, cfg, names, o, w, os.Stderr); err != nil {
		fmt.Println(err)
	}
	fmt.Print(trimLines(out.buf.String()))
	// Output:
	// DEMO:TEMP                      2024-05-06 07:08:09.500000 21.5
	// DEMO:TEMP                      2024-05-06 07:08:09.500000 95 HIHI MAJOR
}

// trimLines drops the spaces at the ends of lines: example output cannot
// show them, and the tools end a line without alarm with two separators,
// as caget and camonitor do.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// trimmed is os.Stdout through trimLines.
type trimmed struct{}

func (trimmed) Write(p []byte) (int, error) {
	_, err := os.Stdout.WriteString(trimLines(string(p)))
	return len(p), err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
