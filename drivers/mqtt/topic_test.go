package mqtt

import (
	"slices"
	"strings"
	"testing"

	"github.com/cabridge/cabridge/mapping"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+/c", "a/x/c", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+", "a/", true},
		{"+", "", true},
		{"a/b", "a/b/", false},
		{"a//b", "a//b", true},
	} {
		if got := match(tc.filter, tc.topic); got != tc.want {
			t.Errorf("match(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

func TestCoversAndMinimal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"a/+", "a/b", true},
		{"a/#", "a/+/c", true},
		{"a/#", "a", true},
		{"a/+", "a/#", false},
		{"#", "$SYS/a", false},
		{"+/a", "b/a", true},
		{"a/b", "a/+", false},
		{"a/+/c", "a/b/c", true},
	} {
		if got := covers(tc.a, tc.b); got != tc.want {
			t.Errorf("covers(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	got := minimalFilters([]string{"p/a/t", "p/+/t", "p/b/t", "q/x", "q/x", "r/#", "r/+/s", "r"})
	if want := []string{"p/+/t", "q/x", "r/#"}; !slices.Equal(got, want) {
		t.Errorf("minimalFilters = %v, want %v", got, want)
	}
}

// FuzzMatch checks match against covers: a topic matches a filter that
// covers another filter it matches.
func FuzzMatch(f *testing.F) {
	f.Add("a/+/c", "a/#", "a/b/c")
	f.Add("#", "+/+", "$SYS/x")
	f.Fuzz(func(t *testing.T, a, b, topic string) {
		if validFilter(a) != nil || validFilter(b) != nil || validTopic(topic) != nil {
			return
		}
		if covers(a, b) && match(b, topic) && !match(a, topic) {
			t.Fatalf("%q covers %q, which matches %q, but %q does not", a, b, topic, a)
		}
	})
}

func TestExpandPVs(t *testing.T) {
	pvs := []mapping.PVConfig{
		{Name: "PLAIN"},
		{Name: "PLANT:{room}:{floor}:TEMP", Desc: "{room} temperature", Binding: mapping.Binding{Device: "b", Address: "plant/{room}/{floor}/temp",
			Options: map[string]string{"expand": "room=boiler,chiller; floor=1,2", "command": "plant/{room}/{floor}/set"}}},
	}
	got, err := ExpandPVs(pvs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name+" "+p.Binding.Address+" "+p.Binding.Options["command"]+" "+p.Desc)
		if _, ok := p.Binding.Options["expand"]; ok {
			t.Errorf("%s keeps the expand option", p.Name)
		}
	}
	want := []string{"PLAIN   ",
		"PLANT:boiler:1:TEMP plant/boiler/1/temp plant/boiler/1/set boiler temperature",
		"PLANT:boiler:2:TEMP plant/boiler/2/temp plant/boiler/2/set boiler temperature",
		"PLANT:chiller:1:TEMP plant/chiller/1/temp plant/chiller/1/set chiller temperature",
		"PLANT:chiller:2:TEMP plant/chiller/2/temp plant/chiller/2/set chiller temperature"}
	if !slices.Equal(names, want) {
		t.Errorf("ExpandPVs =\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"room", "room=a,,b", "room=a/b", "room=a;room=b", "r-x=1", "room=x+"} {
		_, err := ExpandPVs([]mapping.PVConfig{{Name: "{room}", Binding: mapping.Binding{Address: "{room}", Options: map[string]string{"expand": bad}}}})
		if err == nil {
			t.Errorf("expand %q accepted", bad)
		}
	}
	// EPICS macros ${P} are left for the mapping layer.
	got, err = ExpandPVs([]mapping.PVConfig{{Name: "${P}{room}:T", Binding: mapping.Binding{Address: "a/{room}", Options: map[string]string{"expand": "room=x"}}}})
	if err != nil || len(got) != 1 || got[0].Name != "${P}x:T" {
		t.Errorf("with a ${P} macro: %v, %v", got, err)
	}
	_, err = ExpandPVs([]mapping.PVConfig{{Name: "X:{room}", Binding: mapping.Binding{Address: "a/{room}/{floor}", Options: map[string]string{"expand": "room=a"}}}})
	if err == nil || !strings.Contains(err.Error(), "{floor} is not expanded") {
		t.Errorf("unexpanded placeholder: %v", err)
	}
}

func TestValidate(t *testing.T) {
	bad := -1
	cfg := Config{Broker: "http://x", TLS: &TLSConfig{CertFile: "c"}, KeepAlive: -1, Session: "sticky", QoS: &bad,
		StatusTopic: "s/#", Subscriptions: []string{"a/#/b"}, Stale: -1,
		Export: &ExportConfig{Topic: "x/+/{pv}", PVs: []string{""}, MinInterval: -1}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, w := range []string{"broker: http://x: unknown scheme", "tls: cert_file and key_file", "keepalive", "session: sticky",
		"qos: -1", "status_topic", "subscriptions[0]", "stale", "export.topic", "export.pvs[0]", "export.min_interval"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	for _, url := range []string{"tcp://127.0.0.1:1883", "ssl://h:8883", "ws://h:9001/mqtt", "wss://h/mqtt", "mqtt://h"} {
		c := Config{Broker: url}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
	if err := (&Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "broker: missing") {
		t.Errorf("empty config: %v", err)
	}
}
