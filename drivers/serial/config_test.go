package serial_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/drivers/serial"
)

func TestValidate(t *testing.T) {
	ok := psuConfig()
	ok.TCP = "127.0.0.1:1"
	tests := []struct {
		name   string
		mutate func(c *serial.Config)
		want   []string // substrings of the error, one per problem
	}{
		{"ok", func(*serial.Config) {}, nil},
		{"no transport", func(c *serial.Config) { c.TCP = "" }, []string{"port: want exactly one of port, usb_serial and tcp"}},
		{"two transports", func(c *serial.Config) { c.Port = "/dev/ttyS0" }, []string{"port: want exactly one"}},
		{"line settings", func(c *serial.Config) {
			c.Baud, c.DataBits, c.Parity, c.StopBits, c.FlowControl = -1, 9, "weird", "3", "xonxoff"
		}, []string{"baud: -1", "data_bits: 9", "parity: weird", "stop_bits: 3", "flow_control: xonxoff: want none or rtscts"}},
		{"settings", func(c *serial.Config) {
			c.InTerminator, c.OutTerminator, c.ReplyTimeout, c.ExtraInput, c.Retries, c.LogInterval = "%d", `\q`, -1, "maybe", 11, -1
		}, []string{"in_terminator: %d", `out_terminator: \q`, "reply_timeout: -1ns", "extra_input: maybe", "retries: 11", "log_interval: -1ns"}},
		{"protocols", func(c *serial.Config) {
			c.Protocols = map[string]serial.Protocol{
				"a":   {Out: "X?", In: "%q"},
				"b":   {Out: "X %f", In: "%f"},
				"c":   {Write: &serial.Exchange{Out: "NOVALUE"}},
				"d":   {},
				"e":   {Out: "Y?", In: "OK"},
				"f":   {In: "%f", Settings: serial.Settings{ExtraInput: "nope"}},
				"g h": {In: "%f"},
				"i":   {Write: &serial.Exchange{Out: "%/x/"}},
			}
		}, []string{"protocols.a: in: serial: bad format", "protocols.b: out \"X %f\"", "protocols.c: write: out \"NOVALUE\"",
			"protocols.d: serial: bad format: a protocol needs in", "protocols.e: in \"OK\"", "protocols.f.extra_input: nope",
			"protocols.g h: g h: a protocol name", "protocols.i: write: out: serial: bad format"}},
		{"init", func(c *serial.Config) { c.Init = []serial.Exchange{{}, {Out: "%d"}} }, []string{"init[0]: an init exchange needs out or in", "init[1]: out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Protocols = psuConfig().Protocols
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
			var ce *drivers.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("no *drivers.ConfigError in %v", err)
			}
		})
	}
}

func TestFactoryDecodesStrictly(t *testing.T) {
	var reg drivers.Registry
	if err := reg.Register("serial", serial.New); err != nil {
		t.Fatal(err)
	}
	good := `{"tcp": "127.0.0.1:1", "in_terminator": "CRLF", "reply_timeout": "250ms",
		"protocols": {"v": {"out": "V?", "in": "%f", "write": {"out": "V %.2f"}, "reply_timeout": "2s"}}}`
	d, err := reg.New("serial", drivers.Params{Name: "psu", Decode: drivers.DecodeJSON([]byte(good))})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	for _, bad := range []string{
		`{"tcp": "127.0.0.1:1", "baudrate": 9600}`,
		`{"tcp": "127.0.0.1:1", "reply_timeout": "soon"}`,
		`{"tcp": "127.0.0.1:1", "protocols": {"v": {"out": "V?", "in": "%f", "repyl_timeout": "1s"}}}`,
		`{"port": "/dev/ttyS0", "usb_serial": "A1"}`,
	} {
		if _, err := reg.New("serial", drivers.Params{Name: "psu", Decode: drivers.DecodeJSON([]byte(bad))}); err == nil {
			t.Errorf("config %s accepted", bad)
		}
	}
}

// logCounter counts records by level and message.
type logCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Level.String()+" "+r.Message]++
	return nil
}
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }
func (h *logCounter) count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// TestBadReplyLogRateLimit: a point that keeps failing logs once per log
// interval; a good reply ends the failure, so the next one logs at once.
func TestBadReplyLogRateLimit(t *testing.T) {
	dev := newPSU()
	srv := newTCPInstrument(t, dev)
	h := &logCounter{n: map[string]int{}}
	cfg := psuConfig()
	cfg.TCP = srv.addr
	delete(cfg.Protocols, "event") // no unsolicited traffic: a bad reply fails at once
	d, err := serial.NewDevice("psu1", cfg, slog.New(h))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Open(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	pts := parse(t, d, drivers.PointSpec{Address: "junk"}, drivers.PointSpec{Address: "volt"})
	for range 5 {
		if _, err := d.Read(ctx5(t), pts); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.count("WARN serial: bad reply"); n != 1 {
		t.Errorf("5 bad replies logged %d times, want 1", n)
	}
	dev.stalled.Store(true)
	if _, err := d.Read(ctx5(t), pts[1:]); err != nil {
		t.Fatal(err)
	}
	dev.stalled.Store(false)
	if _, err := d.Read(ctx5(t), pts[1:]); err != nil {
		t.Fatal(err)
	}
	if n, good := h.count("WARN serial: bad reply"), h.count("INFO serial: good reply again"); n != 2 || good != 1 {
		t.Errorf("after a timeout and a good reply of another point: %d warnings, %d recoveries; want 2 and 1", n, good)
	}
}
