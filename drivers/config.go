package drivers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that decodes from a Go duration string
// ("250ms", "1m30s") and encodes back to one, for driver config structs.
type Duration time.Duration

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("drivers: bad duration %q", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String formats d as a duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// DecodeJSON returns a Params.Decode function that decodes the JSON
// document data strictly: unknown fields and trailing data are errors.
// The daemon may turn its config section into JSON and use it; tests use
// it directly.
func DecodeJSON(data []byte) func(into any) error {
	return func(into any) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			return fmt.Errorf("drivers: decode config: %w", err)
		}
		if dec.More() {
			return fmt.Errorf("drivers: decode config: trailing data")
		}
		return nil
	}
}
