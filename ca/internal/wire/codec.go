package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Extended-header markers (§1.3 of the protocol reference).
const (
	// ExtMarker is the payload_size value announcing a 24-byte header.
	ExtMarker = 0xFFFF
	// AddrFromSource in a search reply's parameter1 means "use the
	// datagram's source address".
	AddrFromSource = 0xFFFFFFFF
	// MaxErrorPayload is the largest ERROR payload rsrv sends.
	MaxErrorPayload = 512
)

//nolint:gochecknoglobals // read-only lookup table, never written
var commandNames = [...]string{
	"VERSION", "EVENT_ADD", "EVENT_CANCEL", "READ", "WRITE", "SNAPSHOT", "SEARCH", "BUILD",
	"EVENTS_OFF", "EVENTS_ON", "READ_SYNC", "ERROR", "CLEAR_CHANNEL", "RSRV_IS_UP", "NOT_FOUND",
	"READ_NOTIFY", "READ_BUILD", "REPEATER_CONFIRM", "CREATE_CHAN", "WRITE_NOTIFY", "CLIENT_NAME",
	"HOST_NAME", "ACCESS_RIGHTS", "ECHO", "REPEATER_REGISTER", "SIGNAL", "CREATE_CH_FAIL", "SERVER_DISCONN",
}

// String returns the caProto.h name of c without the CA_PROTO_ prefix,
// e.g. "READ_NOTIFY", or "Command(n)" for an unknown code.
func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return fmt.Sprintf("Command(%d)", uint16(c))
}

// Padded returns n rounded up to the CA alignment of 8 bytes.
func Padded(n int) int { return (n + 7) &^ 7 }

// NeedsExtended reports whether a header with this payload size and element
// count must use the 24-byte form: either is 0xFFFF or more.
func NeedsExtended(payloadSize, count uint32) bool {
	return payloadSize >= ExtMarker || count >= ExtMarker
}

// HeaderLen returns the length of the header AppendHeader writes for h:
// HeaderSize or ExtHeaderSize.
func HeaderLen(h Header) int {
	if NeedsExtended(h.PayloadSize, h.DataCount) {
		return ExtHeaderSize
	}
	return HeaderSize
}

// AppendHeader appends h to dst in the 16-byte form, or in the 24-byte
// extended form when h.PayloadSize or h.DataCount is 0xFFFF or more. It does
// not check that PayloadSize is a multiple of 8.
func AppendHeader(dst []byte, h Header) []byte {
	if NeedsExtended(h.PayloadSize, h.DataCount) {
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.Command))
		dst = binary.BigEndian.AppendUint16(dst, ExtMarker)
		dst = binary.BigEndian.AppendUint16(dst, h.DataType)
		dst = binary.BigEndian.AppendUint16(dst, 0)
		dst = binary.BigEndian.AppendUint32(dst, h.Param1)
		dst = binary.BigEndian.AppendUint32(dst, h.Param2)
		dst = binary.BigEndian.AppendUint32(dst, h.PayloadSize)
		return binary.BigEndian.AppendUint32(dst, h.DataCount)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.Command))
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.PayloadSize))
	dst = binary.BigEndian.AppendUint16(dst, h.DataType)
	dst = binary.BigEndian.AppendUint16(dst, uint16(h.DataCount))
	dst = binary.BigEndian.AppendUint32(dst, h.Param1)
	return binary.BigEndian.AppendUint32(dst, h.Param2)
}

// AppendMessage appends h and payload to dst, zero-padding the payload to a
// multiple of 8. h.PayloadSize is ignored and set to the padded length.
func AppendMessage(dst []byte, h Header, payload []byte) []byte {
	h.PayloadSize = uint32(Padded(len(payload)))
	dst = AppendHeader(dst, h)
	dst = append(dst, payload...)
	return appendPad(dst, len(payload))
}

func appendPad(dst []byte, n int) []byte {
	var zero [8]byte
	return append(dst, zero[:Padded(n)-n]...)
}

// BeginMessage appends h to dst and returns the extended slice and the
// offset at which the header starts. The caller then appends the payload to
// the returned slice and calls EndMessage with the same start. h.PayloadSize
// must be the expected padded payload size (for a DBR payload,
// dbr.PaddedSize); it selects the header form so that the payload need not
// be moved. A wrong guess is still encoded correctly, at the cost of one
// copy when the payload turns out to need an extended header.
func BeginMessage(dst []byte, h Header) ([]byte, int) {
	start := len(dst)
	return AppendHeader(dst, h), start
}

// EndMessage completes a message begun at start by BeginMessage: it
// zero-pads the payload to a multiple of 8 and writes the final payload
// size into the header, switching to the extended form if the size needs it.
func EndMessage(dst []byte, start int) []byte {
	ext := binary.BigEndian.Uint16(dst[start+2:]) == ExtMarker
	hl := HeaderSize
	if ext {
		hl = ExtHeaderSize
	}
	n := len(dst) - start - hl
	dst = appendPad(dst, n)
	size := uint32(Padded(n))
	if ext {
		binary.BigEndian.PutUint32(dst[start+16:], size)
		return dst
	}
	if size < ExtMarker {
		binary.BigEndian.PutUint16(dst[start+2:], uint16(size))
		return dst
	}
	// Rare: the payload outgrew the 16-byte header. Move it by 8 bytes.
	count := uint32(binary.BigEndian.Uint16(dst[start+6:]))
	var zero [8]byte
	dst = append(dst, zero[:]...)
	copy(dst[start+ExtHeaderSize:], dst[start+HeaderSize:len(dst)-8])
	binary.BigEndian.PutUint16(dst[start+2:], ExtMarker)
	binary.BigEndian.PutUint16(dst[start+6:], 0)
	binary.BigEndian.PutUint32(dst[start+16:], size)
	binary.BigEndian.PutUint32(dst[start+20:], count)
	return dst
}

// ErrNeedMore is returned by Next when b holds only part of a message; Need
// tells how many bytes the first message needs in total.
var ErrNeedMore = errors.New("wire: need more data")

// Reasons carried by *Error.
var (
	// ErrMisaligned: the payload size is not a multiple of 8. The stream
	// cannot be resynchronised; close the circuit.
	ErrMisaligned = errors.New("wire: misaligned payload size")
	// ErrTooLarge: the payload exceeds the receiver's limit. The caller may
	// answer ECA_TOLARGE and skip Error.Len bytes.
	ErrTooLarge = errors.New("wire: payload too large")
	// ErrNameTooLong: a name payload exceeds the allowed length.
	ErrNameTooLong = errors.New("wire: name too long")
	// ErrShort: a payload is shorter than its command's layout requires.
	ErrShort = errors.New("wire: payload too short")
)

// Error is a framing error found in a message header. Header is the decoded
// header of the offending message, whose first HeaderLen bytes are still at
// Offset in the decoded buffer (rsrv copies them into its ERROR reply).
type Error struct {
	Cmd       Command
	Offset    int    // offset of the offending header in the buffer given to Next (always 0)
	Header    Header // the decoded header
	HeaderLen int    // 16 or 24
	Len       int64  // total message length (header + payload) to skip, for ErrTooLarge
	Reason    error  // ErrMisaligned or ErrTooLarge
}

// Error describes the framing error.
func (e *Error) Error() string {
	return fmt.Sprintf("%v: %v at offset %d (payload size %d)", e.Reason, e.Cmd, e.Offset, e.Header.PayloadSize)
}

// Unwrap returns the reason, so errors.Is(err, ErrTooLarge) works.
func (e *Error) Unwrap() error { return e.Reason }

// Need returns the number of bytes the first message in b occupies in
// total (header and payload), as far as b tells: HeaderSize while the
// header is incomplete, ExtHeaderSize while an extended header is
// incomplete. The result may be less than len(b).
func Need(b []byte) int64 {
	if len(b) < HeaderSize {
		return HeaderSize
	}
	size := uint32(binary.BigEndian.Uint16(b[2:]))
	if size != ExtMarker {
		return HeaderSize + int64(size)
	}
	if len(b) < ExtHeaderSize {
		return ExtHeaderSize
	}
	return ExtHeaderSize + int64(binary.BigEndian.Uint32(b[16:]))
}

// ParseHeader decodes the header at the start of b. It returns the header,
// whether it is extended, and the header length, or ErrNeedMore.
func ParseHeader(b []byte) (Header, bool, int, error) {
	if len(b) < HeaderSize {
		return Header{}, false, 0, ErrNeedMore
	}
	h := Header{
		Command:     Command(binary.BigEndian.Uint16(b[0:])),
		PayloadSize: uint32(binary.BigEndian.Uint16(b[2:])),
		DataType:    binary.BigEndian.Uint16(b[4:]),
		DataCount:   uint32(binary.BigEndian.Uint16(b[6:])),
		Param1:      binary.BigEndian.Uint32(b[8:]),
		Param2:      binary.BigEndian.Uint32(b[12:]),
	}
	if h.PayloadSize != ExtMarker {
		return h, false, HeaderSize, nil
	}
	if len(b) < ExtHeaderSize {
		return Header{}, false, 0, ErrNeedMore
	}
	h.PayloadSize = binary.BigEndian.Uint32(b[16:])
	h.DataCount = binary.BigEndian.Uint32(b[20:])
	return h, true, ExtHeaderSize, nil
}

// Next decodes the first complete message in b and returns it with its
// total length n. The message's payload aliases b. If b holds only part of
// a message it returns ErrNeedMore (see Need). A payload size that is not a
// multiple of 8, or larger than maxPayload (0 = no limit), gives an *Error
// with Reason ErrMisaligned or ErrTooLarge; n is then 0. Next never blocks,
// copies or allocates except to build an *Error.
func Next(b []byte, maxPayload uint32) (m Message, n int, err error) {
	h, ext, hl, err := ParseHeader(b)
	if err != nil {
		return Message{}, 0, err
	}
	if h.PayloadSize%8 != 0 {
		return Message{}, 0, &Error{Cmd: h.Command, Header: h, HeaderLen: hl,
			Len: int64(hl) + int64(h.PayloadSize), Reason: ErrMisaligned}
	}
	if maxPayload != 0 && h.PayloadSize > maxPayload {
		return Message{}, 0, &Error{Cmd: h.Command, Header: h, HeaderLen: hl,
			Len: int64(hl) + int64(h.PayloadSize), Reason: ErrTooLarge}
	}
	total := int64(hl) + int64(h.PayloadSize)
	if int64(len(b)) < total {
		return Message{}, 0, ErrNeedMore
	}
	return Message{Header: h, Extended: ext, Payload: b[hl:total:total]}, int(total), nil
}

// AppendName appends name NUL-terminated and zero-padded to a multiple of 8.
func AppendName(dst []byte, name string) []byte {
	dst = append(dst, name...)
	dst = append(dst, 0)
	return appendPad(dst, len(name)+1)
}

// NameSize returns the padded payload size of name as AppendName writes it.
func NameSize(name string) int { return Padded(len(name) + 1) }

// DecodeName returns the string in payload up to the first NUL (or the whole
// payload if there is none). It returns ErrNameTooLong if that string is
// longer than max bytes (max <= 0: no limit). The string is a copy.
func DecodeName(payload []byte, max int) (string, error) {
	n := 0
	for n < len(payload) && payload[n] != 0 {
		n++
	}
	if max > 0 && n > max {
		return "", ErrNameTooLong
	}
	return string(payload[:n]), nil
}

func appendNameMessage(dst []byte, h Header, name string) []byte {
	h.PayloadSize = uint32(NameSize(name))
	dst = AppendHeader(dst, h)
	return AppendName(dst, name)
}

// AppendVersionTCP appends the VERSION a client sends on a circuit
// (data_type = priority 0..99) or a server sends at accept (priority 0).
func AppendVersionTCP(dst []byte, priority uint16) []byte {
	return AppendHeader(dst, Header{Command: CmdVersion, DataType: priority, DataCount: MinorVersion})
}

// AppendVersionUDP appends the VERSION that opens every search datagram and
// every search reply datagram: data_type 1, sequence number in parameter1.
func AppendVersionUDP(dst []byte, seq uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdVersion, DataType: SequenceNoIsValid, DataCount: MinorVersion, Param1: seq})
}

// AppendSearch appends a SEARCH request for name with the DONTREPLY flag.
func AppendSearch(dst []byte, cid uint32, name string) []byte {
	return AppendSearchFlag(dst, DontReply, cid, name)
}

// AppendSearchFlag appends a SEARCH request with the given reply flag
// (DoReply or DontReply).
func AppendSearchFlag(dst []byte, flag uint16, cid uint32, name string) []byte {
	return appendNameMessage(dst, Header{Command: CmdSearch, DataType: flag, DataCount: MinorVersion, Param1: cid, Param2: cid}, name)
}

// SearchSize returns the number of bytes AppendSearch writes for name.
func SearchSize(name string) int {
	return HeaderLen(Header{PayloadSize: uint32(NameSize(name))}) + NameSize(name)
}

// AppendSearchReplyUDP appends a UDP search reply: data_type = the server's
// TCP port, parameter1 = AddrFromSource, parameter2 = cid, and the 8-byte
// payload carrying the server's minor version.
func AppendSearchReplyUDP(dst []byte, port uint16, cid uint32) []byte {
	dst = AppendHeader(dst, Header{Command: CmdSearch, PayloadSize: 8, DataType: port, Param1: AddrFromSource, Param2: cid})
	return append(dst, 0, MinorVersion, 0, 0, 0, 0, 0, 0)
}

// AppendSearchReplyTCP appends a search reply sent on a TCP circuit: as the
// UDP one but with no payload.
func AppendSearchReplyTCP(dst []byte, port uint16, cid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdSearch, DataType: port, Param1: AddrFromSource, Param2: cid})
}

// AppendNotFound appends a NOT_FOUND reply: the search request's header
// with the command changed and no payload.
func AppendNotFound(dst []byte, req Header) []byte {
	req.Command = CmdNotFound
	req.PayloadSize = 0
	return AppendHeader(dst, req)
}

// AppendCreateChan appends a CREATE_CHAN request (parameter2 = the client's
// minor version).
func AppendCreateChan(dst []byte, cid uint32, name string) []byte {
	return appendNameMessage(dst, Header{Command: CmdCreateChan, Param1: cid, Param2: MinorVersion}, name)
}

// AppendCreateChanReply appends a CREATE_CHAN reply with the native type and
// element count (extended header when count ≥ 0xFFFF).
func AppendCreateChanReply(dst []byte, cid, sid uint32, dataType uint16, count uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdCreateChan, DataType: dataType, DataCount: count, Param1: cid, Param2: sid})
}

// AppendCreateChFail appends CREATE_CH_FAIL for cid.
func AppendCreateChFail(dst []byte, cid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdCreateChFail, Param1: cid})
}

// AppendAccessRights appends ACCESS_RIGHTS (rights: AccessRead|AccessWrite bits).
func AppendAccessRights(dst []byte, cid, rights uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdAccessRights, Param1: cid, Param2: rights})
}

// AppendClearChannel appends CLEAR_CHANNEL with parameter1 = sid and
// parameter2 = cid; the server's confirmation has the same layout.
func AppendClearChannel(dst []byte, sid, cid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdClearChannel, Param1: sid, Param2: cid})
}

// AppendEventAdd appends an EVENT_ADD request with its 16-byte mon_info
// payload (three zero floats, the event mask, a zero pad).
func AppendEventAdd(dst []byte, dataType uint16, count, sid, subID uint32, mask uint16) []byte {
	dst = AppendHeader(dst, Header{Command: CmdEventAdd, PayloadSize: 16, DataType: dataType, DataCount: count, Param1: sid, Param2: subID})
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, mask)
	return append(dst, 0, 0)
}

// EventAddMask returns the event mask from an EVENT_ADD payload, or ErrShort.
func EventAddMask(payload []byte) (uint16, error) {
	if len(payload) < 14 {
		return 0, ErrShort
	}
	return binary.BigEndian.Uint16(payload[12:]), nil
}

// AppendEventCancel appends EVENT_CANCEL with the subscription's type and count.
func AppendEventCancel(dst []byte, dataType uint16, count, sid, subID uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdEventCancel, DataType: dataType, DataCount: count, Param1: sid, Param2: subID})
}

// AppendEventCancelReply appends the confirmation of an EVENT_CANCEL: an
// EVENT_ADD header with no payload echoing the subscription's type and
// count, parameter1 = sid, parameter2 = subscription id.
func AppendEventCancelReply(dst []byte, dataType uint16, count, sid, subID uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdEventAdd, DataType: dataType, DataCount: count, Param1: sid, Param2: subID})
}

// AppendReadNotify appends a READ_NOTIFY request.
func AppendReadNotify(dst []byte, dataType uint16, count, sid, ioid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdReadNotify, DataType: dataType, DataCount: count, Param1: sid, Param2: ioid})
}

// WriteHeader returns the header of a WRITE request (parameter2 = cid, as
// libca sends it) for a payload of payloadSize padded bytes; use it with
// BeginMessage.
func WriteHeader(dataType uint16, count, sid, cid uint32, payloadSize int) Header {
	return Header{Command: CmdWrite, PayloadSize: uint32(payloadSize), DataType: dataType, DataCount: count, Param1: sid, Param2: cid}
}

// WriteNotifyHeader returns the header of a WRITE_NOTIFY request for a
// payload of payloadSize padded bytes; use it with BeginMessage.
func WriteNotifyHeader(dataType uint16, count, sid, ioid uint32, payloadSize int) Header {
	return Header{Command: CmdWriteNotify, PayloadSize: uint32(payloadSize), DataType: dataType, DataCount: count, Param1: sid, Param2: ioid}
}

// AppendWriteNotifyReply appends a WRITE_NOTIFY reply carrying an ECA status.
func AppendWriteNotifyReply(dst []byte, dataType uint16, count, status, ioid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdWriteNotify, DataType: dataType, DataCount: count, Param1: status, Param2: ioid})
}

// AppendError appends an ERROR message: parameter1 = cid, parameter2 = the
// ECA status, payload = req (the offending request's raw header, 16 or 24
// bytes) followed by text and a NUL. The text is truncated so that the
// payload stays within MaxErrorPayload bytes.
func AppendError(dst []byte, cid, status uint32, req []byte, text string) []byte {
	if len(req) > ExtHeaderSize {
		req = req[:ExtHeaderSize]
	}
	if room := MaxErrorPayload - len(req) - 1; len(text) > room {
		text = text[:room]
	}
	n := len(req) + len(text) + 1
	dst = AppendHeader(dst, Header{Command: CmdError, PayloadSize: uint32(Padded(n)), Param1: cid, Param2: status})
	dst = append(dst, req...)
	dst = append(dst, text...)
	dst = append(dst, 0)
	return appendPad(dst, n)
}

// DecodeError splits an ERROR payload into the copied request header and
// the message text.
func DecodeError(payload []byte) (Header, string, error) {
	h, _, hl, err := ParseHeader(payload)
	if err != nil {
		return Header{}, "", ErrShort
	}
	text, _ := DecodeName(payload[hl:], 0)
	return h, text, nil
}

// AppendEcho appends an ECHO with no payload.
func AppendEcho(dst []byte) []byte {
	return AppendHeader(dst, Header{Command: CmdEcho})
}

// AppendClientName appends CLIENT_NAME carrying the user name.
func AppendClientName(dst []byte, name string) []byte {
	return appendNameMessage(dst, Header{Command: CmdClientName}, name)
}

// AppendHostName appends HOST_NAME carrying the host name.
func AppendHostName(dst []byte, name string) []byte {
	return appendNameMessage(dst, Header{Command: CmdHostName}, name)
}

// AppendServerDisconn appends SERVER_DISCONN for cid.
func AppendServerDisconn(dst []byte, cid uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdServerDisconn, Param1: cid})
}

// AppendBeacon appends a beacon (RSRV_IS_UP): data_type = minor version,
// data_count = the server's TCP port, parameter1 = counter, parameter2 = 0.
func AppendBeacon(dst []byte, port uint16, counter uint32) []byte {
	return AppendHeader(dst, Header{Command: CmdBeacon, DataType: MinorVersion, DataCount: uint32(port), Param1: counter})
}

// SearchReplyMinor returns the server minor version from a UDP search
// reply payload, or 0 if the payload is too short.
func SearchReplyMinor(payload []byte) uint16 {
	if len(payload) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(payload)
}
