package mqtt

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/cabridge/cabridge/mapping"
)

// validFilter checks an MQTT topic filter: not empty, at most 65535
// bytes, no NUL, '+' only as a whole level and '#' only as the whole last
// level.
func validFilter(f string) error {
	if f == "" {
		return errors.New("empty topic")
	}
	if len(f) > 65535 || strings.ContainsRune(f, 0) {
		return errors.New("topic too long or contains NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("'#' must be the last level of %q", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return fmt.Errorf("wildcard inside level %q of %q", l, f)
		}
	}
	return nil
}

// validTopic checks a topic to publish to: a filter without wildcards.
func validTopic(t string) error {
	if err := validFilter(t); err != nil {
		return err
	}
	if strings.ContainsAny(t, "+#") {
		return fmt.Errorf("wildcard in publish topic %q", t)
	}
	return nil
}

// match reports whether topic matches filter. As MQTT requires, a
// wildcard in the first level does not match a topic that starts with
// '$' (broker statistics, $SYS).
func match(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" matches "a": the parent level.
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// covers reports whether every topic that matches b also matches a.
func covers(a, b string) bool {
	al, bl := strings.Split(a, "/"), strings.Split(b, "/")
	for i, x := range al {
		if x == "#" {
			return i > 0 || !strings.HasPrefix(b, "$")
		}
		if i >= len(bl) {
			return false
		}
		y := bl[i]
		switch {
		case y == "#":
			return false
		case x == "+":
			if i == 0 && strings.HasPrefix(y, "$") {
				return false
			}
		case x != y:
			return false
		}
	}
	return len(al) == len(bl)
}

// minimalFilters returns the filters of fs that no other filter of fs
// covers, sorted and without duplicates: the subscriptions to make.
func minimalFilters(fs []string) []string {
	fs = slices.Clone(fs)
	slices.Sort(fs)
	fs = slices.Compact(fs)
	var out []string
	for i, f := range fs {
		covered := false
		for j, g := range fs {
			// Distinct filters never cover each other both ways.
			if i != j && covers(g, f) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}

// placeholder matches a named topic level in an address or PV name.
//
//nolint:gochecknoglobals // read-only compiled pattern
var placeholder = regexp.MustCompile(`\{[A-Za-z_][A-Za-z0-9_]*\}`)

// unexpanded returns the first {name} placeholder of s that is not an
// EPICS macro reference ${name}, or "".
func unexpanded(s string) string {
	for _, m := range placeholder.FindAllStringIndex(s, -1) {
		if m[0] == 0 || s[m[0]-1] != '$' {
			return s[m[0]:m[1]]
		}
	}
	return ""
}

// ExpandOption is the binding option that ExpandPVs expands.
const ExpandOption = "expand"

// ExpandPVs builds PV names from topic levels. A PV whose binding has the
// option "expand" is replaced by one PV per combination of the listed
// values: with
//
//	name: "PLANT:{room}:TEMP"
//	binding: {device: broker, address: "plant/{room}/temp", options: {expand: "room=boiler,chiller"}}
//
// it returns PLANT:boiler:TEMP bound to plant/boiler/temp and
// PLANT:chiller:TEMP bound to plant/chiller/temp. Several names are
// separated by ';' ("room=a,b;floor=1,2" gives four PVs). "{name}" is
// replaced in the PV name, its description and the binding's address and
// option values; every placeholder of the address must be expanded. The
// driver subscribes once to a filter that covers all of them when the
// device lists one in Config.Subscriptions (here "plant/+/temp").
//
// The daemon calls ExpandPVs on the configuration before validating it;
// PVs without the option are returned unchanged, in order. It does no
// I/O and reports every problem, naming the PV by its index.
func ExpandPVs(pvs []mapping.PVConfig) ([]mapping.PVConfig, error) {
	var out []mapping.PVConfig
	var errs []error
	for i, pv := range pvs {
		spec, ok := pv.Binding.Options[ExpandOption]
		if !ok {
			out = append(out, pv)
			continue
		}
		combos, err := expandCombos(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("mqtt: pvs[%d] %q: binding.options.%s %q: %w", i, pv.Name, ExpandOption, spec, err))
			continue
		}
		for _, vars := range combos {
			e := pv
			r := replacer(vars)
			e.Name = r.Replace(pv.Name)
			e.Desc = r.Replace(pv.Desc)
			e.Binding.Address = r.Replace(pv.Binding.Address)
			e.Binding.Options = make(map[string]string, len(pv.Binding.Options))
			for k, v := range pv.Binding.Options {
				if k != ExpandOption {
					e.Binding.Options[k] = r.Replace(v)
				}
			}
			if left := unexpanded(e.Binding.Address + " " + e.Name); left != "" {
				errs = append(errs, fmt.Errorf("mqtt: pvs[%d] %q: %s is not expanded", i, pv.Name, left))
				break
			}
			out = append(out, e)
		}
	}
	return out, errors.Join(errs...)
}

// expandCombos parses "a=1,2;b=x,y" into every combination of values.
func expandCombos(spec string) ([]map[string]string, error) {
	combos := []map[string]string{{}}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(spec, ";") {
		name, list, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || !placeholder.MatchString("{"+name+"}") || placeholder.FindString("{"+name+"}") != "{"+name+"}" {
			return nil, fmt.Errorf("want name=value,value;... (bad part %q)", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s listed twice", name)
		}
		seen[name] = true
		var vals []string
		for v := range strings.SplitSeq(list, ",") {
			v = strings.TrimSpace(v)
			if v == "" || strings.ContainsAny(v, "/+#") {
				return nil, fmt.Errorf("%s: bad value %q (empty, or a topic separator or wildcard)", name, v)
			}
			vals = append(vals, v)
		}
		if len(combos)*len(vals) > 10000 {
			return nil, errors.New("more than 10000 combinations")
		}
		var next []map[string]string
		for _, c := range combos {
			for _, v := range vals {
				m := maps.Clone(c)
				m[name] = v
				next = append(next, m)
			}
		}
		combos = next
	}
	return combos, nil
}

// replacer replaces {name} by its value for every name of vars.
func replacer(vars map[string]string) *strings.Replacer {
	var args []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		args = append(args, "{"+k+"}", vars[k])
	}
	return strings.NewReplacer(args...)
}
