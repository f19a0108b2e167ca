//go:build !race

package ca

// dataRaceEnabled reports whether the race detector is on; allocation and
// memory tests skip then.
const dataRaceEnabled = false
