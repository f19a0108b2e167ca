package modbus

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/cabridge/cabridge/drivers/internal/crc"
)

// FuzzStreamReply feeds arbitrary reply bytes to both framings: Send
// must return a whole frame of the request's transaction (MBAP) or with
// a good CRC (RTU), or an error, and never panic.
func FuzzStreamReply(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 7}, false)
	f.Add([]byte{0, 9, 0, 0, 0, 5, 1, 3, 2, 0, 7, 0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 8}, false)
	f.Add([]byte{0, 1, 0, 0, 0, 0}, false)
	f.Add([]byte{1, 3, 2, 0, 7, 0xF9, 0x86}, true)
	f.Add([]byte{1, 0x83, 2, 0xC0, 0xF1}, true)
	f.Add([]byte{1, 3, 0xFF}, true)
	f.Fuzz(func(t *testing.T, data []byte, rtu bool) {
		mbap := []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1}
		rtuReq := binary.LittleEndian.AppendUint16([]byte{1, 3, 0, 0, 0, 1}, crc.Modbus([]byte{1, 3, 0, 0, 0, 1}))
		fr, req := FramingMBAP, mbap
		if rtu {
			fr, req = FramingRTU, rtuReq
		}
		st := NewStreamTransporter("pipe", fr, time.Second)
		client, server := net.Pipe()
		st.conn = client
		_ = client.SetDeadline(time.Now().Add(time.Second))
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, len(req))
			if _, err := server.Read(buf); err != nil {
				return
			}
			_, _ = server.Write(data)
			_ = server.Close()
		}()
		resp, err := st.Send(req)
		_ = st.Close()
		_ = client.Close()
		<-done
		if err != nil {
			return
		}
		if rtu {
			if len(resp) < 5 || crc.Modbus(resp[:len(resp)-2]) != binary.LittleEndian.Uint16(resp[len(resp)-2:]) {
				t.Fatalf("RTU frame % x accepted", resp)
			}
			return
		}
		if len(resp) < 8 || binary.BigEndian.Uint16(resp) != 1 || int(binary.BigEndian.Uint16(resp[4:]))+6 != len(resp) {
			t.Fatalf("MBAP frame % x accepted", resp)
		}
	})
}
