// Package conf loads the cabridge daemon's configuration file through
// viper (YAML, TOML or JSON, with CABRIDGE_-prefixed environment
// overrides) and decodes it strictly into typed structs: an unknown key,
// a value of the wrong type or a bad duration is an error that names the
// file, the line and the key path, with a hint how to fix it.
//
// Viper folds map keys to lower case, so the configuration never uses
// names (PV names, macro names) as map keys: PVs and devices are lists of
// objects with name fields, and macros are one "NAME=value,..." string.
package conf

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix is the prefix of environment overrides: CABRIDGE_LOG_LEVEL
// overrides log.level.
const EnvPrefix = "CABRIDGE"

// File is a loaded configuration file: its settings (keys in lower case)
// and where each key path stands in the file.
type File struct {
	// Path is the file's path as given.
	Path string
	// Settings are the file's settings with the environment overrides
	// applied, as viper returns them.
	Settings map[string]any
	lines    map[string]int
}

// Load reads path with viper, applying CABRIDGE_ environment overrides:
// CABRIDGE_LOG_LEVEL overrides log.level. Overrides apply to every key
// the file sets, and to envKeys (e.g. "log.level") even when it does not.
// The format follows the extension: .yaml/.yml, .toml or .json.
func Load(path string, envKeys []string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, data, envKeys)
}

// Parse is Load for data already read; path names the file in errors
// and its extension gives the format.
func Parse(path string, data []byte, envKeys []string) (*File, error) {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch format {
	case "yml":
		format = "yaml"
	case "yaml", "toml", "json":
	default:
		return nil, fmt.Errorf("%s: unknown config format %q (want .yaml, .yml, .toml or .json)", path, filepath.Ext(path))
	}
	v := viper.New()
	v.SetConfigType(format)
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for _, k := range envKeys {
		if err := v.BindEnv(k); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), "While parsing config: "))
		return nil, &Error{File: path, Line: parseErrorLine(err), Msg: msg}
	}
	f := &File{Path: path, Settings: v.AllSettings(), lines: map[string]int{}}
	if format != "toml" {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) == nil {
			indexLines(&root, "", f.lines)
		}
	}
	return f, nil
}

// parseErrorLine digs "line N" out of a parser's message; 0 if none.
func parseErrorLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	j := i + len("line ")
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	n, _ := strconv.Atoi(s[j:k])
	return n
}

// indexLines records the line of every key path under n.
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := strings.ToLower(k.Value)
			if path != "" {
				p = path + "." + p
			}
			lines[p] = k.Line
			indexLines(val, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			indexLines(c, p, lines)
		}
	}
}

// Line returns the line of key path p ("pvs[3].binding.address"), or of
// its nearest enclosing key that the file has; 0 when unknown (a TOML
// file, or a key set only by the environment).
func (f *File) Line(p string) int {
	for p != "" {
		if l, ok := f.lines[strings.ToLower(p)]; ok {
			return l
		}
		i := max(strings.LastIndexByte(p, '.'), strings.LastIndexByte(p, '['))
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// Error is one problem in a configuration file.
type Error struct {
	File string // the file's path
	Line int    // 1-based line, 0 when unknown
	Path string // key path, e.g. "pvs[3].binding.address"; may be empty
	Msg  string // what is wrong, and how to fix it
}

// Error returns "file:line: msg", or "file: msg" without a line.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// At returns an Error at key path p with message "p: msg".
func (f *File) At(p, msg string) *Error {
	if p != "" {
		msg = p + ": " + msg
	}
	return &Error{File: f.Path, Line: f.Line(p), Path: p, Msg: msg}
}

// Decode strictly decodes the settings under key path p ("" for all of
// them) into out, a pointer to a struct with json tags. Unknown keys and
// values of the wrong type are reported, every one of them, as *Error
// joined with errors.Join. A json.RawMessage field receives its section
// as JSON, undecoded (a driver's own section).
func (f *File) Decode(p string, out any) error {
	v := f.lookup(p)
	return f.DecodeValue(p, v, out)
}

// DecodeValue is Decode for a value taken from the settings at key path
// p. Even when it reports problems it decodes what it could into out
// (leaving out the offending keys), so that the caller can go on checking
// the rest and report every problem at once.
func (f *File) DecodeValue(p string, v any, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("conf: decode %s: want a non-nil pointer, got %T", p, out)
	}
	var errs []error
	norm := check(v, rv.Elem().Type(), p, func(path, msg string) { errs = append(errs, f.At(path, msg)) })
	if norm != nil {
		data, err := json.Marshal(norm)
		if err == nil {
			err = json.Unmarshal(data, out)
		}
		if err != nil {
			errs = append(errs, f.At(p, err.Error()))
		}
	}
	return errors.Join(errs...)
}

// Value returns the settings value at key path p (nil when absent).
func (f *File) Value(p string) any { return f.lookup(p) }

// lookup walks key path p through the settings.
func (f *File) lookup(p string) any {
	var cur any = f.Settings
	if p == "" {
		return cur
	}
	for _, part := range splitPath(p) {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part.key]
		case []any:
			if part.index < 0 || part.index >= len(c) {
				return nil
			}
			cur = c[part.index]
		default:
			return nil
		}
	}
	return cur
}

// pathPart is one step of a key path: a key, or an index (key empty).
type pathPart struct {
	key   string
	index int
}

// splitPath splits "pvs[3].binding" into pvs, [3], binding.
func splitPath(p string) []pathPart {
	var out []pathPart
	for _, seg := range strings.Split(p, ".") {
		for seg != "" {
			i := strings.IndexByte(seg, '[')
			switch {
			case i < 0:
				out = append(out, pathPart{key: strings.ToLower(seg), index: -1})
				seg = ""
			case i > 0:
				out = append(out, pathPart{key: strings.ToLower(seg[:i]), index: -1})
				seg = seg[i:]
			default:
				j := strings.IndexByte(seg, ']')
				if j < 0 {
					return out
				}
				n, _ := strconv.Atoi(seg[1:j])
				out = append(out, pathPart{index: n})
				seg = seg[j+1:]
			}
		}
	}
	return out
}

//nolint:gochecknoglobals // read-only reflect types
var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// check verifies that v fits type t, reporting each problem at its key
// path, and returns v normalised for encoding/json (numbers written as
// strings for string fields, and so on).
func check(v any, t reflect.Type, path string, report func(path, msg string)) any {
	if v == nil {
		return nil
	}
	if t == rawMessageType {
		return v
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := scalarString(v)
		if !ok {
			report(path, fmt.Sprintf("want a string, got %s", describe(v)))
			return nil
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			report(path, fmt.Sprintf("%q: %v", s, err))
			return nil
		}
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		return check(v, t.Elem(), path, report)
	case reflect.Interface:
		return v
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			report(path, fmt.Sprintf("want a map of keys, got %s", describe(v)))
			return nil
		}
		fields := jsonFields(t)
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			sub := join(path, k)
			ft, ok := fields[k]
			if !ok {
				report(sub, unknownKey(k, fields))
				continue
			}
			out[k] = check(m[k], ft, sub, report)
		}
		return out
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			report(path, fmt.Sprintf("want a map, got %s", describe(v)))
			return nil
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			out[k] = check(m[k], t.Elem(), join(path, k), report)
		}
		return out
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			if s, ok := v.(string); ok { // "a,b" or a single item
				v = splitList(s)
			}
		}
		l, ok := v.([]any)
		if !ok {
			if ss, isStrings := v.([]string); isStrings {
				l = make([]any, len(ss))
				for i, s := range ss {
					l[i] = s
				}
			} else {
				report(path, fmt.Sprintf("want a list, got %s", describe(v)))
				return nil
			}
		}
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), report)
		}
		return out
	case reflect.String:
		s, ok := scalarString(v)
		if !ok {
			report(path, fmt.Sprintf("want a string, got %s", describe(v)))
			return nil
		}
		return s
	case reflect.Bool:
		switch b := v.(type) {
		case bool:
			return b
		case string:
			if x, err := strconv.ParseBool(b); err == nil {
				return x
			}
		}
		report(path, fmt.Sprintf("want true or false, got %s", describe(v)))
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f, ok := number(v)
		if !ok || f != math.Trunc(f) {
			report(path, fmt.Sprintf("want an integer, got %s", describe(v)))
			return nil
		}
		if overflows(t, f) {
			report(path, fmt.Sprintf("%v is out of range for %s", f, t.Kind()))
			return nil
		}
		if f < 0 {
			return int64(f)
		}
		return uint64(f)
	case reflect.Float32, reflect.Float64:
		f, ok := number(v)
		if !ok {
			report(path, fmt.Sprintf("want a number, got %s", describe(v)))
			return nil
		}
		return f
	}
	return v
}

// overflows reports whether f does not fit the integer type t.
func overflows(t reflect.Type, f float64) bool {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return f < 0 || reflect.Zero(t).OverflowUint(uint64(min(f, math.MaxUint64)))
	}
	return f < math.MinInt64 || f > math.MaxInt64 || reflect.Zero(t).OverflowInt(int64(f))
}

// number returns v as a float: numbers, and strings that parse as one
// (environment overrides are strings).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// scalarString returns a scalar as a string: YAML reads an unquoted
// 400101 or 1.5 as a number, which a string field takes as written.
func scalarString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case int, int64, int32, uint64, float64, float32, bool:
		return fmt.Sprint(s), true
	}
	return "", false
}

// splitList splits an environment override "a,b c" into items.
func splitList(s string) []any {
	var out []any
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// describe names the kind of a settings value for messages.
func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a map"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%v", v)
}

// jsonFields returns the fields of struct type t by json name, including
// those of embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(sf.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out[strings.ToLower(name)] = sf.Type
	}
	return out
}

// unknownKey returns the message for an unknown key k, suggesting the
// nearest known one.
func unknownKey(k string, fields map[string]reflect.Type) string {
	known := sortedKeys(fields)
	best, dist := "", 3
	for _, f := range known {
		if d := editDistance(k, f); d < dist {
			best, dist = f, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", k, best)
	}
	return fmt.Sprintf("unknown key %q (known keys: %s)", k, strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// join appends key k to path p.
func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
