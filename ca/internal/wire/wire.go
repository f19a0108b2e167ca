// Package wire encodes and decodes Channel Access messages: the 16-byte
// header, the 24-byte extended header, payload padding, command codes, ECA
// status codes and the byte layouts of each command. It does no I/O, starts
// no goroutines and reads no clock. DBR payloads are encoded by package dbr.
package wire

// Command is a CA command code (caProto.h).
type Command uint16

// The CA command codes.
const (
	CmdVersion          Command = 0
	CmdEventAdd         Command = 1
	CmdEventCancel      Command = 2
	CmdRead             Command = 3
	CmdWrite            Command = 4
	CmdSnapshot         Command = 5
	CmdSearch           Command = 6
	CmdBuild            Command = 7
	CmdEventsOff        Command = 8
	CmdEventsOn         Command = 9
	CmdReadSync         Command = 10
	CmdError            Command = 11
	CmdClearChannel     Command = 12
	CmdBeacon           Command = 13 // RSRV_IS_UP
	CmdNotFound         Command = 14
	CmdReadNotify       Command = 15
	CmdReadBuild        Command = 16
	CmdRepeaterConfirm  Command = 17
	CmdCreateChan       Command = 18
	CmdWriteNotify      Command = 19
	CmdClientName       Command = 20
	CmdHostName         Command = 21
	CmdAccessRights     Command = 22
	CmdEcho             Command = 23
	CmdRepeaterRegister Command = 24
	CmdSignal           Command = 25
	CmdCreateChFail     Command = 26
	CmdServerDisconn    Command = 27
)

// Protocol constants (caProto.h).
const (
	MajorVersion        = 4
	MinorVersion        = 13 // CA_MINOR_PROTOCOL_REVISION
	MinSupportedMinor   = 4  // oldest client minor version served
	DefaultServerPort   = 5064
	DefaultRepeaterPort = 5065
	HeaderSize          = 16
	ExtHeaderSize       = 24
	MaxUDPSend          = 1024 // largest datagram rsrv and libca send
	MaxUDPRecv          = 0xFFFF + 16
	DoReply             = 10 // SEARCH data_type: reply NOT_FOUND over TCP
	DontReply           = 5
	SequenceNoIsValid   = 1 // UDP VERSION data_type
	AccessRead          = 1
	AccessWrite         = 2
	MaxPriority         = 99
)

// Header is a decoded CA message header. PayloadSize and DataCount hold the
// real values whether the message used the 16- or 24-byte form.
type Header struct {
	Command     Command
	PayloadSize uint32 // padded payload length in bytes
	DataType    uint16
	DataCount   uint32
	Param1      uint32
	Param2      uint32
}

// Message is a header and its payload. Payload aliases the buffer the
// message was decoded from and is valid only until that buffer is reused.
type Message struct {
	Header
	Extended bool   // the message used the 24-byte header
	Payload  []byte // PayloadSize bytes
}
