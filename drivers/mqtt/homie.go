package mqtt

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/cabridge/cabridge/drivers"
	"github.com/cabridge/cabridge/mapping"
)

// DiscoverHomie reads the retained Homie (v3/v4 convention) descriptions
// under base ("homie" when empty) from the broker of cfg and returns one
// PV per property, bound to the device named device: see HomiePVs. It
// collects retained messages until none came for quiet (default 500ms)
// or ctx is done, then disconnects. It is meant for generating a
// configuration (a daemon subcommand), not for the running bridge.
func DiscoverHomie(ctx context.Context, cfg Config, device, base string, quiet time.Duration) ([]mapping.PVConfig, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt: discover: invalid config: %w", err)
	}
	if base == "" {
		base = "homie"
	}
	if quiet <= 0 {
		quiet = 500 * time.Millisecond
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "cabridge"
	}
	o := paho.NewClientOptions().AddBroker(cfg.Broker).SetClientID(cfg.ClientID + "-discover").
		SetUsername(cfg.Username).SetPassword(cfg.Password).SetAutoReconnect(false).SetCleanSession(true)
	if cfg.TLS != nil {
		tc, err := loadTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	cl := paho.NewClient(o)
	if err := wait(ctx, cl.Connect()); err != nil {
		return nil, fmt.Errorf("mqtt: discover: connect to %s: %w", cfg.Broker, err)
	}
	defer cl.Disconnect(0)
	var mu sync.Mutex
	attrs := map[string]string{}
	got := make(chan struct{}, 1)
	err := wait(ctx, cl.Subscribe(base+"/#", 1, func(_ paho.Client, m paho.Message) {
		if !m.Retained() {
			return
		}
		mu.Lock()
		attrs[m.Topic()] = string(m.Payload())
		mu.Unlock()
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("mqtt: discover: subscribe %s/#: %w", base, err)
	}
	timer := time.NewTimer(quiet)
	defer timer.Stop()
collect:
	for {
		select {
		case <-got:
			timer.Reset(quiet)
		case <-timer.C:
			break collect
		case <-ctx.Done():
			break collect
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return HomiePVs(attrs, device, base), nil
}

// HomiePVs turns the retained Homie attributes of a broker (topic →
// payload) into PVs bound to device: one per property of every node of
// every Homie device under base, named DEVICE:NODE:PROPERTY, in the
// order of $nodes and $properties. The property's $name becomes the
// description and $unit the units; $datatype picks the type (integer →
// long, float → double, boolean → enum false/true, enum → enum with the
// states of $format, others → string); a numeric $format "min:max" sets
// the display and drive limits; a $settable property is an
// output_readback PV that publishes to PROPERTY/set and completes when
// the device reports the value. It does no I/O.
func HomiePVs(attrs map[string]string, device, base string) []mapping.PVConfig {
	var devs []string
	for t := range attrs {
		rest, ok := strings.CutPrefix(t, base+"/")
		if id, ok2 := strings.CutSuffix(rest, "/$homie"); ok && ok2 && !strings.Contains(id, "/") {
			devs = append(devs, id)
		}
	}
	slices.Sort(devs)
	list := func(s string) []string {
		var out []string
		for f := range strings.SplitSeq(s, ",") {
			// Homie v3 marks array nodes as "node[]"; they are not expanded.
			if f = strings.TrimSpace(f); f != "" && !strings.Contains(f, "[") {
				out = append(out, f)
			}
		}
		return out
	}
	var pvs []mapping.PVConfig
	for _, dev := range devs {
		for _, node := range list(attrs[base+"/"+dev+"/$nodes"]) {
			for _, prop := range list(attrs[base+"/"+dev+"/"+node+"/$properties"]) {
				pvs = append(pvs, homiePV(attrs, device, base+"/"+dev+"/"+node+"/"+prop, dev+":"+node+":"+prop))
			}
		}
	}
	return pvs
}

// homiePV builds the PV of the property at topic.
func homiePV(attrs map[string]string, device, topic, name string) mapping.PVConfig {
	pv := mapping.PVConfig{Name: name, Desc: attrs[topic+"/$name"], EGU: attrs[topic+"/$unit"], Scan: mapping.ScanIOIntr,
		Binding: mapping.Binding{Device: device, Address: topic, Options: map[string]string{}}}
	format := attrs[topic+"/$format"]
	switch attrs[topic+"/$datatype"] {
	case "integer":
		pv.Type, pv.Binding.Type = "long", "int32"
	case "float":
		pv.Type, pv.Binding.Type, pv.Prec = "double", "float64", 3
	case "boolean":
		pv.Type, pv.Binding.Type, pv.EnumStrings = "enum", "uint16", []string{"false", "true"}
		pv.Binding.Options[OptEnum] = "false,true"
	case "enum":
		states := strings.Split(format, ",")
		pv.Type, pv.Binding.Type, pv.EnumStrings = "enum", "uint16", states
		pv.Binding.Options[OptEnum] = format
		format = ""
	default:
		pv.Type, pv.Binding.Type = "string", "string"
		format = ""
	}
	if lo, hi, ok := strings.Cut(format, ":"); ok {
		l, err1 := strconv.ParseFloat(lo, 64)
		h, err2 := strconv.ParseFloat(hi, 64)
		if err1 == nil && err2 == nil && l < h {
			pv.LOPR, pv.HOPR, pv.DRVL, pv.DRVH = &l, &h, &l, &h
		}
	}
	if attrs[topic+"/$settable"] == "true" {
		pv.Direction = mapping.DirOutputReadback
		pv.Binding.Options[OptCommand] = topic + "/set"
		if attrs[topic+"/$retained"] != "false" {
			pv.Binding.Options[OptReadback] = topic
		}
	}
	if len(pv.Binding.Options) == 0 {
		pv.Binding.Options = nil
	}
	return pv
}

// homieAttributes are the attributes of a property that become PV
// metadata at run time.
//
//nolint:gochecknoglobals // read-only list
var homieAttributes = []string{"$unit", "$name", "$format"}

// homieTopics returns the attribute topics of a Homie point, nil for
// others.
func (p *point) homieTopics() []string {
	if !p.homie {
		return nil
	}
	out := make([]string, len(homieAttributes))
	for i, a := range homieAttributes {
		out[i] = p.filter + "/" + a
	}
	return out
}

// homieAttr reports whether topic is an attribute topic of p, and which.
func (p *point) homieAttr(topic string) (string, bool) {
	if !p.homie {
		return "", false
	}
	a, ok := strings.CutPrefix(topic, p.filter+"/")
	if !ok || !slices.Contains(homieAttributes, a) {
		return "", false
	}
	return a, true
}

// homieMeta returns m (a copy) updated with one attribute: $unit the
// units, $name the description, a numeric $format "min:max" the display
// limits.
func homieMeta(m *drivers.Meta, attr, value string) *drivers.Meta {
	out := drivers.Meta{}
	if m != nil {
		out = *m
	}
	switch attr {
	case "$unit":
		out.Units = value
	case "$name":
		out.Desc = value
	case "$format":
		lo, hi, ok := strings.Cut(value, ":")
		if !ok {
			break
		}
		if l, err := strconv.ParseFloat(strings.TrimSpace(lo), 64); err == nil {
			out.DisplayLow = &l
		}
		if h, err := strconv.ParseFloat(strings.TrimSpace(hi), 64); err == nil {
			out.DisplayHigh = &h
		}
	}
	return &out
}
