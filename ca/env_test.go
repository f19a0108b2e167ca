package ca

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	ap := netip.MustParseAddrPort
	ip := netip.MustParseAddr
	dflt := Config{Port: 5064, BeaconPort: 5065, AutoBeaconAddrs: true, BeaconPeriod: 15 * time.Second}
	with := func(f func(c *Config)) Config { c := dflt; f(&c); return c }
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring; empty = no error
	}{
		{"defaults", nil, dflt, ""},
		{"empty counts as unset", map[string]string{"EPICS_CAS_SERVER_PORT": "", "EPICS_CA_SERVER_PORT": "6000"},
			with(func(c *Config) { c.Port = 6000 }), ""},
		{"CAS port wins", map[string]string{"EPICS_CAS_SERVER_PORT": "7000", "EPICS_CA_SERVER_PORT": "6000"},
			with(func(c *Config) { c.Port = 7000 }), ""},
		{"bad port", map[string]string{"EPICS_CAS_SERVER_PORT": "70000"}, dflt, `EPICS_CAS_SERVER_PORT="70000"`},
		{"beacon port falls back to the repeater port", map[string]string{"EPICS_CA_REPEATER_PORT": "6001"},
			with(func(c *Config) { c.BeaconPort = 6001 }), ""},
		{"interfaces", map[string]string{"EPICS_CAS_INTF_ADDR_LIST": " 127.0.0.1  10.0.0.1:99 "},
			with(func(c *Config) { c.Interfaces = []netip.Addr{ip("127.0.0.1"), ip("10.0.0.1")} }), ""},
		{"0.0.0.0 alone", map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "0.0.0.0"}, dflt, ""},
		{"0.0.0.0 combined", map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "0.0.0.0 127.0.0.1"},
			with(func(c *Config) { c.Interfaces = []netip.Addr{ip("127.0.0.1")} }), "may not be combined"},
		{"host name resolved", map[string]string{"EPICS_CAS_BEACON_ADDR_LIST": "localhost:7000"},
			with(func(c *Config) { c.BeaconAddrs = []netip.AddrPort{ap("127.0.0.1:7000")} }), ""},
		{"bad host name", map[string]string{"EPICS_CAS_INTF_ADDR_LIST": "no*such*host"}, dflt,
			`"no*such*host" is neither an IPv4 address nor a host name`},
		{"ignore list", map[string]string{"EPICS_CAS_IGNORE_ADDR_LIST": "10.1.1.1 10.1.1.2:5064"},
			with(func(c *Config) { c.IgnoreAddrs = []netip.Addr{ip("10.1.1.1"), ip("10.1.1.2")} }), ""},
		{"beacon list with default port", map[string]string{"EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1 10.0.0.255:7000 127.0.0.1",
			"EPICS_CAS_BEACON_PORT": "6500"},
			with(func(c *Config) {
				c.BeaconPort = 6500
				c.BeaconAddrs = []netip.AddrPort{ap("127.0.0.1:6500"), ap("10.0.0.255:7000")}
			}), ""},
		{"beacon list bad port", map[string]string{"EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1:x"}, dflt, "EPICS_CAS_BEACON_ADDR_LIST"},
		{"auto beacon no", map[string]string{"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "no"},
			with(func(c *Config) { c.AutoBeaconAddrs = false }), ""},
		{"auto beacon: only YES is true", map[string]string{"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "true"},
			with(func(c *Config) { c.AutoBeaconAddrs = false }), ""},
		{"auto beacon yes any case", map[string]string{"EPICS_CAS_AUTO_BEACON_ADDR_LIST": "yEs"}, dflt, ""},
		{"beacon period fallback", map[string]string{"EPICS_CA_BEACON_PERIOD": "2.5"},
			with(func(c *Config) { c.BeaconPeriod = 2500 * time.Millisecond }), ""},
		{"beacon period not positive", map[string]string{"EPICS_CAS_BEACON_PERIOD": "-1"}, dflt, ""},
		{"beacon period garbage", map[string]string{"EPICS_CAS_BEACON_PERIOD": "soon"}, dflt, `EPICS_CAS_BEACON_PERIOD="soon"`},
		{"max array bytes ignored with auto", map[string]string{"EPICS_CA_MAX_ARRAY_BYTES": "1000000"}, dflt, ""},
		{"max array bytes", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "NO", "EPICS_CA_MAX_ARRAY_BYTES": "1000000"},
			with(func(c *Config) { c.MaxArrayBytes = 1000000 }), ""},
		{"max array bytes default", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "NO"},
			with(func(c *Config) { c.MaxArrayBytes = 16384 }), ""},
		{"max array bytes raised to 16384", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "no", "EPICS_CA_MAX_ARRAY_BYTES": "100"},
			with(func(c *Config) { c.MaxArrayBytes = 16384 }), ""},
		{"max array bytes garbage", map[string]string{"EPICS_CA_AUTO_ARRAY_BYTES": "no", "EPICS_CA_MAX_ARRAY_BYTES": "lots"},
			with(func(c *Config) { c.MaxArrayBytes = 16384 }), `EPICS_CA_MAX_ARRAY_BYTES="lots"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
