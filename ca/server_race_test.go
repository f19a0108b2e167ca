//go:build race

package ca

const srvRaceEnabled = true
