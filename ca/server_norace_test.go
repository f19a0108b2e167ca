//go:build !race

package ca

const srvRaceEnabled = false
