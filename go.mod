module github.com/cabridge/cabridge

go 1.26

require (
	github.com/goburrow/modbus v0.1.0
	github.com/goburrow/serial v0.1.0
)
