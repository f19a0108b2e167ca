package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/drivers"
)

// ErrPayload is wrapped by every error of a payload that cannot be
// decoded into its point's value. drivers.AlarmFor gives it READ/INVALID.
var ErrPayload = errors.New("mqtt: bad payload")

// pathStep is one step of a JSON path: an object key or an array index.
type pathStep struct {
	key   string
	index int  // the index when isIdx
	isIdx bool // an array index rather than a key
}

// jsonPath is a parsed JSON path such as `sensors.temp` or `values[2]`
// or `[0].v`. The empty path (written "" or "$") selects the root.
type jsonPath []pathStep

// parsePath parses a JSON path: keys separated by dots, each optionally
// followed by [index] suffixes; a leading "$" or "$." is allowed.
func parsePath(s string) (jsonPath, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
	var p jsonPath
	if s == "" {
		return p, nil
	}
	for seg := range strings.SplitSeq(s, ".") {
		key := seg
		rest := ""
		if i := strings.IndexByte(seg, '['); i >= 0 {
			key, rest = seg[:i], seg[i:]
		}
		if key == "" && rest == "" {
			return nil, fmt.Errorf("empty key in path %q", s)
		}
		if strings.ContainsAny(key, "]") {
			return nil, fmt.Errorf("bad key %q in path %q", key, s)
		}
		if key != "" {
			p = append(p, pathStep{key: key})
		}
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("bad index %q in path %q", rest, s)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 || n > 1<<20 {
				return nil, fmt.Errorf("bad index %q in path %q", rest[:end+1], s)
			}
			p = append(p, pathStep{index: n, isIdx: true})
			rest = rest[end+1:]
		}
	}
	return p, nil
}

// lookup walks the path in the decoded JSON document v.
func (p jsonPath) lookup(v any) (any, error) {
	for _, st := range p {
		switch x := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, fmt.Errorf("index [%d] applied to an object", st.index)
			}
			e, ok := x[st.key]
			if !ok {
				return nil, fmt.Errorf("no key %q", st.key)
			}
			v = e
		case []any:
			if !st.isIdx {
				return nil, fmt.Errorf("key %q applied to an array", st.key)
			}
			if st.index >= len(x) {
				return nil, fmt.Errorf("index [%d] out of range (%d elements)", st.index, len(x))
			}
			v = x[st.index]
		default:
			return nil, fmt.Errorf("path step %s applied to a %s", st, jsonKind(v))
		}
	}
	return v, nil
}

// String formats the step for errors.
func (st pathStep) String() string {
	if st.isIdx {
		return fmt.Sprintf("[%d]", st.index)
	}
	return strconv.Quote(st.key)
}

// jsonKind names the JSON kind of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// decoder turns payloads into values of one point's type.
type decoder struct {
	typ      drivers.Type
	json     bool      // decode JSON and walk path; else plain text
	path     jsonPath  // the value's path when json
	timePath jsonPath  // nil: no timestamp in the payload
	sevPath  jsonPath  // nil: no severity in the payload
	enum     []string  // state strings of an enum point: payload "On" is state 1
	spb      *spbState // a Sparkplug B metric, decoded from protobuf; nil for text payloads
}

// decoded is what a payload holds.
type decoded struct {
	value drivers.Value
	time  time.Time     // zero when the payload has none
	alarm *dbr.Alarm    // nil when the payload has none
	meta  *drivers.Meta // nil when the payload has none
}

// decode decodes payload. It never panics and returns errors wrapping
// ErrPayload.
func (d *decoder) decode(payload []byte) (decoded, error) {
	var out decoded
	if d.spb != nil {
		return d.spb.decode(d, payload)
	}
	if !d.json {
		v, err := d.plain(payload)
		if err != nil {
			return out, fmt.Errorf("%w: %w", ErrPayload, err)
		}
		out.value = v
		return out, nil
	}
	doc, err := parseJSON(payload)
	if err != nil {
		return out, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	e, err := d.path.lookup(doc)
	if err != nil {
		return out, fmt.Errorf("%w: value: %w", ErrPayload, err)
	}
	if out.value, err = d.fromJSON(e); err != nil {
		return out, fmt.Errorf("%w: value: %w", ErrPayload, err)
	}
	if d.timePath != nil {
		e, err := d.timePath.lookup(doc)
		if err == nil {
			out.time, err = parseTime(e)
		}
		if err != nil {
			return decoded{}, fmt.Errorf("%w: timestamp: %w", ErrPayload, err)
		}
	}
	if d.sevPath != nil {
		e, err := d.sevPath.lookup(doc)
		var sev dbr.Severity
		if err == nil {
			sev, err = parseSeverity(e)
		}
		if err != nil {
			return decoded{}, fmt.Errorf("%w: severity: %w", ErrPayload, err)
		}
		if sev != dbr.SeverityNone {
			out.alarm = &dbr.Alarm{Status: dbr.StatusState, Severity: sev}
		}
	}
	return out, nil
}

// parseJSON decodes one JSON document with numbers kept as json.Number.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return nil, errors.New("not JSON: trailing data")
	}
	return v, nil
}

// plain decodes a payload that is the value as text: a number, a boolean
// or a string; an array is a JSON array or numbers separated by commas or
// white space.
func (d *decoder) plain(b []byte) (drivers.Value, error) {
	if d.typ.Kind == drivers.KindString && d.typ.Len == 1 {
		return d.str(string(b))
	}
	s := strings.TrimSpace(string(b))
	if d.typ.Len == 1 {
		return d.elems([]string{s})
	}
	if strings.HasPrefix(s, "[") {
		doc, err := parseJSON(b)
		if err != nil {
			return nil, err
		}
		return d.fromJSON(doc)
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	return d.elems(fields)
}

// str checks one string element.
func (d *decoder) str(s string) (drivers.Value, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("string is not valid UTF-8")
	}
	if d.typ.MaxLen > 0 && len(s) > d.typ.MaxLen {
		return nil, fmt.Errorf("string of %d bytes, longer than %d", len(s), d.typ.MaxLen)
	}
	return drivers.Strings{s}, nil
}

// fromJSON converts a decoded JSON value to the point's type: a scalar
// for a scalar point, an array of at most Len elements for an array.
func (d *decoder) fromJSON(v any) (drivers.Value, error) {
	if d.typ.Len == 1 {
		if arr, ok := v.([]any); ok {
			if len(arr) != 1 {
				return nil, fmt.Errorf("array of %d elements for a scalar", len(arr))
			}
			v = arr[0]
		}
		s, err := scalarText(v, d.typ.Kind)
		if err != nil {
			return nil, err
		}
		if d.typ.Kind == drivers.KindString {
			return d.str(s)
		}
		return d.elems([]string{s})
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s for an array of %d", jsonKind(v), d.typ.Len)
	}
	texts := make([]string, len(arr))
	for i, e := range arr {
		s, err := scalarText(e, d.typ.Kind)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		texts[i] = s
	}
	return d.elems(texts)
}

// scalarText returns the text of a JSON scalar for parsing as kind k.
func scalarText(v any, k drivers.Kind) (string, error) {
	switch x := v.(type) {
	case json.Number:
		return string(x), nil
	case string:
		return x, nil
	case bool:
		if k == drivers.KindString || k == drivers.KindBool {
			return strconv.FormatBool(x), nil
		}
		if x {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("%s is not a scalar", jsonKind(v))
}

// elems parses texts into a Value of the point's kind; there must be at
// least one and at most Len of them.
func (d *decoder) elems(texts []string) (drivers.Value, error) {
	n := len(texts)
	if n == 0 || n > d.typ.Len {
		return nil, fmt.Errorf("%d elements, want 1..%d", n, d.typ.Len)
	}
	switch d.typ.Kind {
	case drivers.KindFloat:
		out := make(drivers.Floats, n)
		for i, s := range texts {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", truncate(s, 40))
			}
			if d.typ.Bits == 32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
				return nil, fmt.Errorf("%g out of float32 range", f)
			}
			out[i] = f
		}
		return out, nil
	case drivers.KindInt, drivers.KindUint:
		if d.enum != nil {
			texts = slices.Clone(texts)
			for i, s := range texts {
				if j := slices.Index(d.enum, s); j >= 0 {
					texts[i] = strconv.Itoa(j)
				} else if n, err := strconv.Atoi(s); err != nil || n < 0 || n >= len(d.enum) {
					return nil, fmt.Errorf("%q is not one of the states %s", truncate(s, 40), strings.Join(d.enum, ","))
				}
			}
		}
		return d.integers(texts)
	case drivers.KindBool:
		out := make(drivers.Bools, n)
		for i, s := range texts {
			b, err := parseBool(s)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	case drivers.KindString:
		out := make(drivers.Strings, n)
		for i, s := range texts {
			v, err := d.str(s)
			if err != nil {
				return nil, err
			}
			out[i] = v.(drivers.Strings)[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported kind %s", d.typ.Kind)
}

// integers parses integer texts; a float text with no fraction ("12.0",
// "1e3") is accepted, and the value must fit the point's width.
func (d *decoder) integers(texts []string) (drivers.Value, error) {
	bits := d.typ.Bits
	if bits == 0 {
		bits = 64
	}
	ints := make(drivers.Ints, len(texts))
	uints := make(drivers.Uints, len(texts))
	for i, s := range texts {
		if d.typ.Kind == drivers.KindInt {
			v, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				f, ferr := strconv.ParseFloat(s, 64)
				lim := math.Ldexp(1, bits-1)
				if ferr != nil || f != math.Trunc(f) || f < -lim || f >= lim {
					return nil, fmt.Errorf("%q is not an int%d", truncate(s, 40), bits)
				}
				v = int64(f)
			}
			ints[i] = v
			continue
		}
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil || f != math.Trunc(f) || f < 0 || f >= math.Ldexp(1, bits) {
				return nil, fmt.Errorf("%q is not a uint%d", truncate(s, 40), bits)
			}
			v = uint64(f)
		}
		uints[i] = v
	}
	if d.typ.Kind == drivers.KindInt {
		return ints, nil
	}
	return uints, nil
}

// parseBool accepts true/false, 1/0, on/off, yes/no in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1", "on", "yes":
		return true, nil
	case "false", "0", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", truncate(s, 40))
}

// parseTime reads a timestamp: an RFC 3339 string, or a number of
// seconds since the Unix epoch (milliseconds when above 1e11).
func parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", truncate(x, 40))
		}
		return t, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil || f < 0 || f > 1e15 || math.IsNaN(f) {
			return time.Time{}, fmt.Errorf("%s is not a Unix time", truncate(string(x), 40))
		}
		if f > 1e11 {
			f /= 1000
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s is not a time", jsonKind(v))
}

// parseSeverity reads an alarm severity: 0..3 or NO_ALARM, MINOR, MAJOR,
// INVALID (any case).
func parseSeverity(v any) (dbr.Severity, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil || n < 0 || n > int64(dbr.SeverityInvalid) {
			return 0, fmt.Errorf("%s is not a severity 0..3", truncate(string(x), 40))
		}
		return dbr.Severity(n), nil
	case string:
		for i, n := range dbr.SeverityNames() {
			if strings.EqualFold(n, x) {
				return dbr.Severity(i), nil
			}
		}
		return 0, fmt.Errorf("%q is not a severity (NO_ALARM, MINOR, MAJOR, INVALID)", truncate(x, 40))
	}
	return 0, fmt.Errorf("%s is not a severity", jsonKind(v))
}

// truncate shortens s to at most n bytes (on a rune boundary) with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// quotePayload formats a payload for a log line: escaped and truncated.
func quotePayload(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

// encodeValue renders v into a payload template. "{value}" is replaced by
// the value and "{time}" by t in RFC 3339; in a JSON template (one that
// starts with '{' or '[') the value is JSON (strings quoted, arrays as
// JSON arrays), otherwise it is plain text (arrays comma-separated).
func encodeValue(template string, v drivers.Value, t time.Time) ([]byte, error) {
	tt := strings.TrimSpace(template)
	isJSON := strings.HasPrefix(tt, "[") ||
		strings.HasPrefix(tt, "{") && !strings.HasPrefix(tt, "{value}") && !strings.HasPrefix(tt, "{time}")
	val, err := formatValue(v, isJSON)
	if err != nil {
		return nil, err
	}
	ts := t.UTC().Format(time.RFC3339Nano)
	if isJSON {
		ts = strconv.Quote(ts)
	}
	r := strings.NewReplacer("{value}", val, "{time}", ts)
	return []byte(r.Replace(template)), nil
}

// formatValue formats v as JSON or as plain text.
func formatValue(v drivers.Value, asJSON bool) (string, error) {
	n := v.Len()
	parts := make([]string, n)
	for i := range n {
		var s string
		switch x := v.(type) {
		case drivers.Floats:
			if math.IsNaN(x[i]) || math.IsInf(x[i], 0) {
				if asJSON {
					return "", fmt.Errorf("%w: %g cannot be written as JSON", drivers.ErrBadValue, x[i])
				}
			}
			s = strconv.FormatFloat(x[i], 'g', -1, 64)
		case drivers.Ints:
			s = strconv.FormatInt(x[i], 10)
		case drivers.Uints:
			s = strconv.FormatUint(x[i], 10)
		case drivers.Bools:
			s = strconv.FormatBool(x[i])
		case drivers.Strings:
			s = x[i]
			if asJSON {
				b, _ := json.Marshal(s)
				s = string(b)
			}
		}
		parts[i] = s
	}
	if n == 1 {
		return parts[0], nil
	}
	if asJSON {
		return "[" + strings.Join(parts, ",") + "]", nil
	}
	return strings.Join(parts, ","), nil
}

// sameValue reports whether a readback value confirms a written one:
// equal after conversion to the written kind, floats within tol
// (relative to the larger magnitude, at least absolute tol).
func sameValue(written, got drivers.Value, tol float64) bool {
	g, err := drivers.Convert(got, written.Kind())
	if err != nil || g.Len() != written.Len() {
		return false
	}
	wf, ok1 := written.(drivers.Floats)
	gf, ok2 := g.(drivers.Floats)
	if !ok1 || !ok2 {
		return drivers.Equal(written, g)
	}
	for i := range wf {
		d := math.Abs(wf[i] - gf[i])
		if !(d <= tol*max(1, math.Abs(wf[i]), math.Abs(gf[i]))) && !(math.IsNaN(wf[i]) && math.IsNaN(gf[i])) {
			return false
		}
	}
	return true
}

// checkRange checks that the integers of v fit bits (0 means 64).
func checkRange(v drivers.Value, bits int) error {
	if bits == 0 || bits >= 64 {
		return nil
	}
	switch x := v.(type) {
	case drivers.Ints:
		lim := int64(1) << (bits - 1)
		for _, e := range x {
			if e < -lim || e >= lim {
				return fmt.Errorf("%w: %d out of int%d range", drivers.ErrBadValue, e, bits)
			}
		}
	case drivers.Uints:
		for _, e := range x {
			if e >= uint64(1)<<bits {
				return fmt.Errorf("%w: %d out of uint%d range", drivers.ErrBadValue, e, bits)
			}
		}
	}
	return nil
}

// enumText replaces the state indices of v by their strings.
func enumText(v drivers.Value, states []string) (drivers.Value, error) {
	u, err := drivers.Convert(v, drivers.KindUint)
	if err != nil {
		return nil, err
	}
	out := make(drivers.Strings, u.Len())
	for i, n := range u.(drivers.Uints) {
		if n >= uint64(len(states)) {
			return nil, fmt.Errorf("%w: state %d out of range (%d states)", drivers.ErrBadValue, n, len(states))
		}
		out[i] = states[n]
	}
	return out, nil
}
