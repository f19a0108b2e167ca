package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Placeholders in fuzz input that the hostile server replaces by the ids
// the client really used, so the fuzzer reaches the reply handlers.
var (
	tokGetID     = []byte("IOG1") // ioid of the pending Get
	tokDoublesID = []byte("IOD1") // ioid of the pending GetDoubles
	tokSubID     = []byte("SUB1") // subscription id
	tokCID       = []byte("CID1") // the channel's cid
)

// hostileSession is what the client asked for before the fuzzed bytes.
type hostileSession struct {
	cid, getID, doublesID, subID uint32
}

// FuzzClientStream feeds arbitrary bytes, split at fuzzer-chosen points,
// from a TCP name server to a client that has a connected channel, a
// pending Get, a pending GetDoubles and a subscription. The client must not
// panic, must finish every pending operation once the server hangs up, and
// must close cleanly.
func FuzzClientStream(f *testing.F) {
	reply := func(h wire.Header, payload []byte) []byte { return wire.AppendMessage(nil, h, payload) }
	td := dbr.Doubles{1.5}
	md := dbr.Metadata{Stamp: dbr.Timestamp{Sec: 1, Nsec: 2}}
	p1, _ := dbr.AppendData(nil, dbr.TimeDouble, 1, td, &md)
	p3, _ := dbr.AppendData(nil, dbr.TimeDouble, 3, dbr.Doubles{1, 2, 3}, &md)
	withTok := func(b []byte, at int, tok []byte) []byte { copy(b[at:], tok); return b }
	getOK := withTok(reply(wire.Header{Command: wire.CmdReadNotify, DataType: uint16(dbr.TimeDouble), DataCount: 1, Param1: 1}, p1), 12, tokGetID)
	dblOK := withTok(reply(wire.Header{Command: wire.CmdReadNotify, DataType: uint16(dbr.TimeDouble), DataCount: 3, Param1: 1}, p3), 12, tokDoublesID)
	upd := withTok(reply(wire.Header{Command: wire.CmdEventAdd, DataType: uint16(dbr.TimeDouble), DataCount: 1, Param1: 1}, p1), 12, tokSubID)
	disc := withTok(wire.AppendServerDisconn(nil, 0), 8, tokCID)
	errMsg := wire.AppendError(nil, 0, 160, withTok(wire.AppendReadNotify(nil, uint16(dbr.Double), 1, 0, 0), 12, tokGetID), "no")
	for _, seed := range [][]byte{
		getOK, dblOK, upd, disc, errMsg,
		append(append(append([]byte{}, upd...), getOK...), dblOK...),
		{0, 1, 0xff, 0xff, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 1},
		bytes.Repeat([]byte{0}, 40),
	} {
		f.Add(uint16(7), seed)
	}
	f.Fuzz(func(t *testing.T, chunk uint16, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		runHostile(t, int(chunk%512)+1, data)
	})
}

func runHostile(t *testing.T, chunk int, data []byte) {
	// A hang is a failure the fuzzer must record: crash with every stack.
	watchdog := time.AfterFunc(30*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic("client hung on fuzzed input:\n" + string(buf[:runtime.Stack(buf, true)]))
	})
	defer watchdog.Stop()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer func() { _ = ln.Close() }()
	ready := make(chan hostileSession, 1)
	serverDone := make(chan error, 1)
	go func() { serverDone <- serveHostile(ln, data, chunk, ready) }()

	c, err := client.New(client.Config{NameServers: []string{ln.Addr().String()}, ClientName: "fuzz", HostName: "fuzz"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, "FUZZ:PV")
	if err != nil {
		t.Fatalf("connect: %v (server: %v)", err, drain(serverDone))
	}
	results := make(chan error, 3)
	if err := ch.GetAsync(dbr.TimeDouble, 1, func(_ dbr.Value, _ dbr.Metadata, err error) { results <- err }); err != nil {
		results <- err
	}
	go func() {
		_, _, err := ch.GetDoubles(ctx, dbr.TimeDouble, 0, nil)
		results <- err
	}()
	sub, err := ch.Subscribe(dbr.TimeDouble, 1, dbr.EventValue, func(client.Update) {})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	// Every pending operation must finish: with a reply the fuzzer forged,
	// or with an error when the server hangs up after the fuzzed bytes.
	for range 2 {
		select {
		case <-results:
		case <-ctx.Done():
			t.Fatalf("a pending get never finished (server: %v)", drain(serverDone))
		}
	}
	_ = sub.Cancel()
	if err := c.Close(); err != nil && !errors.Is(err, client.ErrClosed) {
		t.Fatalf("close: %v", err)
	}
	_ = ln.Close()
	<-serverDone
}

func drain(ch <-chan error) error {
	select {
	case err := <-ch:
		return err
	default:
		return nil
	}
}

// serveHostile plays a CA name server for one client until the client has
// a channel, a Get, a GetDoubles and a subscription pending, then sends
// data (with the placeholders filled in) in chunks and hangs up.
func serveHostile(ln *net.TCPListener, data []byte, chunk int, ready chan<- hostileSession) error {
	_ = ln.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(wire.AppendVersionTCP(nil, 0)); err != nil {
		return err
	}
	var s hostileSession
	var gets []uint32
	haveSub := false
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for len(gets) < 2 || !haveSub {
		n, err := conn.Read(tmp)
		if err != nil {
			return err
		}
		buf = append(buf, tmp[:n]...)
		for {
			m, k, err := wire.Next(buf, 0)
			if errors.Is(err, wire.ErrNeedMore) {
				break
			}
			if err != nil {
				return err
			}
			var out []byte
			switch m.Command {
			case wire.CmdSearch:
				out = wire.AppendSearchReplyTCP(nil, uint16(ln.Addr().(*net.TCPAddr).Port), m.Param1)
			case wire.CmdCreateChan:
				s.cid = m.Param1
				out = wire.AppendAccessRights(nil, m.Param1, 3)
				out = wire.AppendCreateChanReply(out, m.Param1, 1, uint16(dbr.Double), 100)
			case wire.CmdReadNotify:
				gets = append(gets, m.Param2)
			case wire.CmdEventAdd:
				s.subID, haveSub = m.Param2, true
			}
			buf = buf[:copy(buf, buf[k:])]
			if out != nil {
				if _, err := conn.Write(out); err != nil {
					return err
				}
			}
		}
	}
	// Which READ_NOTIFY is the GetDoubles is not known (they race); the
	// placeholders name them by order of arrival.
	s.getID, s.doublesID = gets[0], gets[1]
	ready <- s
	data = bytes.Clone(data)
	for _, r := range []struct {
		tok []byte
		id  uint32
	}{{tokGetID, s.getID}, {tokDoublesID, s.doublesID}, {tokSubID, s.subID}, {tokCID, s.cid}} {
		var id [4]byte
		binary.BigEndian.PutUint32(id[:], r.id)
		data = bytes.ReplaceAll(data, r.tok, id[:])
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := conn.Write(data[:n]); err != nil {
			return nil // the client dropped the circuit: fine
		}
		data = data[n:]
	}
	// Hang up; drain what the client still sends so its writes don't block.
	_ = conn.(*net.TCPConn).CloseWrite()
	_, _ = io.Copy(io.Discard, conn)
	return nil
}
