//go:build race

package dbr_test

// raceEnabled reports whether the race detector is on; allocation tests
// are skipped then because the detector allocates.
const raceEnabled = true
