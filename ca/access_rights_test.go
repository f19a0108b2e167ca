package ca

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cabridge/cabridge/ca/access"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// groupedPV is a fakePV in an access security group of its own choosing.
type groupedPV struct {
	*fakePV
	group string
}

func (p groupedPV) AccessGroup() string { return p.group }

// opsRules grants ReadWrite to alice on host opi1, Read to everyone else,
// nothing at all in group LOCKED, and Read only in group RO.
var opsRules = access.RulesFunc(func(group, user, host string) access.Rights {
	switch group {
	case "LOCKED":
		return access.None
	case "RO":
		return access.Read
	}
	if user == "alice" && host == "opi1" {
		return access.ReadWrite
	}
	return access.Read
})

// accessHarness is a harness whose server has rules and whose circuit is
// registered with the server (so that SetAccessRules reaches it), after
// VERSION, CLIENT_NAME user and HOST_NAME host.
func accessHarness(t *testing.T, rules access.Rules, user, host string) *harness {
	t.Helper()
	h := newHarness(t, Config{})
	h.s.AccessRules = rules
	h.s.mu.Lock()
	h.s.initLocked()
	h.s.circuits[h.c] = struct{}{}
	h.s.mu.Unlock()
	b := wire.AppendVersionTCP(nil, 0)
	if user != "" {
		b = wire.AppendClientName(b, user)
	}
	if host != "" {
		b = wire.AppendHostName(b, host)
	}
	if out, err := h.send(b); err != nil || len(out) != 0 {
		t.Fatalf("prelude: %x, %v", out, err)
	}
	return h
}

// createReply returns the ACCESS_RIGHTS and CREATE_CHAN reply bytes.
func createReply(cid, sid uint32, rights Access) []byte {
	return wire.AppendCreateChanReply(wire.AppendAccessRights(nil, cid, uint32(rights)), cid, sid, uint16(dbr.Double), 1)
}

func rightsMsg(cid uint32, r Access) []byte { return wire.AppendAccessRights(nil, cid, uint32(r)) }

// deniedUpdate is the subscription update without read access.
func deniedUpdate(subID uint32) []byte {
	return joinBytes(mkHdr(wire.CmdEventAdd, 8, uint16(dbr.Double), 1, uint32(eca.NoRdAccess), subID), make([]byte, 8))
}

func valueUpdate(subID uint32, v float64) []byte {
	return joinBytes(mkHdr(wire.CmdEventAdd, 8, uint16(dbr.Double), 1, uint32(eca.Normal), subID), beF64(v))
}

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

func TestAccessRightsAtCreate(t *testing.T) {
	tests := []struct {
		name       string
		user, host string
		pv         string
		group      func(string, PV) string
		want       Access
	}{
		{name: "allowed user and host", user: "alice", host: "opi1", pv: "T:AI", want: ReadWrite},
		{name: "host compared lower-cased", user: "alice", host: "OPI1", pv: "T:AI", want: ReadWrite},
		{name: "other user", user: "bob", host: "opi1", pv: "T:AI", want: AccessRead},
		{name: "no host name: the peer address is the host", user: "alice", pv: "T:AI", want: AccessRead},
		{name: "rules cannot widen a read-only PV", user: "alice", host: "opi1", pv: "T:RO", want: AccessRead},
		{name: "rules cannot widen a PV with no access", user: "alice", host: "opi1", pv: "T:NO", want: 0},
		{name: "group from the server's func", user: "alice", host: "opi1", pv: "T:AI",
			group: func(string, PV) string { return "LOCKED" }, want: 0},
		{name: "empty group from the func is DEFAULT", user: "alice", host: "opi1", pv: "T:AI",
			group: func(string, PV) string { return "" }, want: ReadWrite},
		{name: "group from the PV", user: "alice", host: "opi1", pv: "G:LOCKED", want: 0},
		{name: "the server's func wins over the PV", user: "alice", host: "opi1", pv: "G:LOCKED",
			group: func(n string, _ PV) string { return "RO" }, want: AccessRead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := accessHarness(t, opsRules, tc.user, tc.host)
			if err := h.m.Add("G:LOCKED", groupedPV{newFakePV(dbr.Doubles{1}, 1), "LOCKED"}); err != nil {
				t.Fatal(err)
			}
			h.s.AccessGroup = tc.group
			out, err := h.send(wire.AppendCreateChan(nil, 42, tc.pv))
			if err != nil {
				t.Fatal(err)
			}
			wantBytes(t, "create", out, createReply(42, 0, tc.want))
		})
	}
}

func TestAccessRightsNilRules(t *testing.T) {
	h := accessHarness(t, nil, "bob", "anywhere")
	out, _ := h.send(wire.AppendCreateChan(nil, 42, "T:AI"))
	wantBytes(t, "create", out, createReply(42, 0, ReadWrite))
	// A typed nil *access.Config is "not configured" too: everything.
	h.s.SetAccessRules((*access.Config)(nil))
	out, _ = h.send(wire.AppendCreateChan(nil, 43, "T:AI"))
	wantBytes(t, "create", out, createReply(43, 1, ReadWrite))
}

func TestAccessDeniedReplies(t *testing.T) {
	h := accessHarness(t, opsRules, "bob", "opi1")
	h.s.AccessGroup = func(name string, _ PV) string {
		if name == "T:STR" {
			return "LOCKED"
		}
		return ""
	}
	if sid := h.open("T:AI", 1); sid != 0 { // Read by the rules
		t.Fatal(sid)
	}
	if sid := h.open("T:STR", 2); sid != 1 { // nothing
		t.Fatal(sid)
	}
	write := mkMsg(wire.CmdWrite, uint16(dbr.Double), 1, 0, 1, beF64(2))
	read := mkHdr(wire.CmdRead, 0, uint16(dbr.String), 1, 1, 9)
	steps := []struct {
		name string
		req  []byte
		ops  bool
		want []byte
	}{
		{"read_notify allowed", mkHdr(wire.CmdReadNotify, 0, uint16(dbr.Double), 1, 0, 7), false,
			valueUpdateAs(wire.CmdReadNotify, 7, 3.5)},
		{"write_notify refused", mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, 0, 12, beF64(2)), true,
			hexBytes("0013 0000 0006 0001 00000178 0000000c")},
		{"write refused with an ERROR", write, true,
			errorMsg(1, uint32(eca.NoWtAccess), write[:16], "T:AI")},
		{"read_notify refused with zeroed data", mkHdr(wire.CmdReadNotify, 0, uint16(dbr.String), 1, 1, 7), false,
			joinBytes(hexBytes("000f 0028 0000 0001 00000170 00000007"), make([]byte, 40))},
		{"read refused with an ERROR", read, false, errorMsg(2, uint32(eca.NoRdAccess), read, "T:STR")},
		{"subscription gets one denied update", wire.AppendEventAdd(nil, uint16(dbr.Double), 1, 1, 5, 1), false,
			deniedUpdate(5)},
	}
	for _, st := range steps {
		out, err := h.send(st.req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.ops {
			out = append(out, h.runOps()...)
		}
		wantBytes(t, st.name, out, st.want)
	}
	if v := h.pvs["T:AI"].Snapshot().Value; v.(dbr.Doubles)[0] != 3.5 {
		t.Errorf("refused puts changed the PV: %v", v)
	}
	h.pvs["T:STR"].set(dbr.Strings{"new"}, dbr.EventValue)
	wantBytes(t, "updates without read access", h.updates(), nil)
}

func valueUpdateAs(cmd wire.Command, p2 uint32, v float64) []byte {
	return joinBytes(mkHdr(cmd, 8, uint16(dbr.Double), 1, uint32(eca.Normal), p2), beF64(v))
}

// swapRules are rules whose grant is switched by the test.
type swapRules struct {
	mu     sync.Mutex
	rights access.Rights
}

func (s *swapRules) Rights(group, user, host string) access.Rights {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rights
}

func (s *swapRules) set(r access.Rights) *swapRules {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rights = r
	return s
}

func TestAccessRightsResentOnRulesChange(t *testing.T) {
	h := accessHarness(t, opsRules, "bob", "opi1")
	sidAI := h.open("T:AI", 1) // Read
	h.open("T:RO", 2)          // Read (the PV is read-only)
	h.open("T:NO", 3)          // nothing

	// Everyone may write: T:AI changes; T:RO and T:NO cannot.
	h.s.SetAccessRules(access.RulesFunc(func(string, string, string) access.Rights { return access.ReadWrite }))
	wantBytes(t, "after granting write", h.take(), rightsMsg(1, ReadWrite))
	out, _ := h.send(mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sidAI, 12, beF64(2)))
	out = append(out, h.runOps()...)
	wantBytes(t, "write after the change", out, hexBytes("0013 0000 0006 0001 00000001 0000000c"))

	// The same rules again: nothing changes, nothing is sent.
	h.s.SetAccessRules(h.s.accessRules())
	wantBytes(t, "same rules", h.take(), nil)

	// Nobody may do anything: T:AI and T:RO change.
	h.s.SetAccessRules(access.RulesFunc(func(string, string, string) access.Rights { return access.None }))
	// Channels are visited in sid order.
	wantBytes(t, "after denying all", h.take(), joinBytes(rightsMsg(1, 0), rightsMsg(2, 0)))
	read := mkHdr(wire.CmdRead, 0, uint16(dbr.Double), 1, sidAI, 9)
	out, _ = h.send(read)
	wantBytes(t, "read after the change", out, errorMsg(1, uint32(eca.NoRdAccess), read, "T:AI"))

	// nil rules: PV.Access() again.
	h.s.SetAccessRules(nil)
	wantBytes(t, "after nil rules", h.take(), joinBytes(rightsMsg(1, ReadWrite), rightsMsg(2, AccessRead)))
}

func TestAccessRightsResentOnNameChange(t *testing.T) {
	h := accessHarness(t, opsRules, "alice", "opi2")
	h.open("T:AI", 1) // Read: alice, but not on opi1
	h.open("T:RO", 2) // Read

	tests := []struct {
		name string
		req  []byte
		want []byte
	}{
		{"host name grants write", wire.AppendHostName(nil, "Opi1"), rightsMsg(1, ReadWrite)},
		{"same host again: nothing", wire.AppendHostName(nil, "Opi1"), nil},
		{"user name takes it away", wire.AppendClientName(nil, "bob"), rightsMsg(1, AccessRead)},
		{"user name gives it back", wire.AppendClientName(nil, "alice"), rightsMsg(1, ReadWrite)},
	}
	for _, tc := range tests {
		out, err := h.send(tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantBytes(t, tc.name, out, tc.want)
	}
}

func TestAccessSubscriptionReadLostAndRegained(t *testing.T) {
	rules := new(swapRules).set(access.ReadWrite)
	h := accessHarness(t, rules, "bob", "opi1")
	sid := h.open("T:AI", 1)
	pv := h.pvs["T:AI"]
	out, _ := h.send(wire.AppendEventAdd(nil, uint16(dbr.Double), 1, sid, 5, uint16(dbr.EventValue)))
	wantBytes(t, "first update", out, valueUpdate(5, 3.5))
	// An alarm-only subscription is reposted on a change of read access too.
	out, _ = h.send(wire.AppendEventAdd(nil, uint16(dbr.Double), 1, sid, 6, uint16(dbr.EventAlarm)))
	wantBytes(t, "first update", out, valueUpdate(6, 3.5))

	pv.set(dbr.Doubles{4}, dbr.EventValue) // queued, then dropped by the loss
	h.s.SetAccessRules(rules.set(access.None))
	wantBytes(t, "rights", h.take(), rightsMsg(1, 0))
	wantBytes(t, "one denied update each", sortUpdates(h.updates()), joinBytes(deniedUpdate(5), deniedUpdate(6)))

	pv.set(dbr.Doubles{5}, dbr.EventValue)
	pv.set(dbr.Doubles{6}, dbr.EventValue|dbr.EventAlarm)
	wantBytes(t, "nothing while denied", h.updates(), nil)

	// Write only: still no read, so nothing is reposted.
	h.s.SetAccessRules(rules.set(access.Write))
	wantBytes(t, "rights", h.take(), rightsMsg(1, AccessWrite))
	wantBytes(t, "no repost without read", h.updates(), nil)

	h.s.SetAccessRules(rules.set(access.Read))
	wantBytes(t, "rights", h.take(), rightsMsg(1, AccessRead))
	wantBytes(t, "current value on regain", sortUpdates(h.updates()), joinBytes(valueUpdate(5, 6), valueUpdate(6, 6)))

	pv.set(dbr.Doubles{7}, dbr.EventValue)
	wantBytes(t, "updates flow again", h.updates(), valueUpdate(5, 7))

	// A write-only change keeps read: no repost.
	h.s.SetAccessRules(rules.set(access.ReadWrite))
	wantBytes(t, "rights", h.take(), rightsMsg(1, ReadWrite))
	wantBytes(t, "no repost when read is kept", h.updates(), nil)
}

// sortUpdates orders 24-byte double updates by subscription id.
func sortUpdates(b []byte) []byte {
	const n = 24
	if len(b)%n != 0 || len(b) < 2*n {
		return b
	}
	var ms [][]byte
	for i := 0; i < len(b); i += n {
		ms = append(ms, b[i:i+n])
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && bytes.Compare(ms[j][12:16], ms[j-1][12:16]) < 0; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
	return joinBytes(ms...)
}

func TestAccessQueuedPutCheckedWhenRun(t *testing.T) {
	rules := new(swapRules).set(access.ReadWrite)
	h := accessHarness(t, rules, "bob", "opi1")
	sid := h.open("T:AI", 1)
	out, _ := h.send(mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sid, 12, beF64(2)))
	wantBytes(t, "queued", out, nil)
	h.s.SetAccessRules(rules.set(access.Read))
	wantBytes(t, "rights", h.take(), rightsMsg(1, AccessRead))
	wantBytes(t, "put refused", h.runOps(), hexBytes("0013 0000 0006 0001 00000178 0000000c"))
}

func TestLoadAccessFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.acf")
	acf := "UAG(ops) {alice}\nASG(DEFAULT) {\n\tRULE(1, READ)\n\tRULE(1, WRITE) {\n\t\tUAG(ops)\n\t}\n}\nASG(LOCKED)\n"
	if err := os.WriteFile(good, []byte(acf), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.acf")
	if err := os.WriteFile(bad, []byte("ASG(DEFAULT) { RULE(1, FLY) }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := accessHarness(t, nil, "bob", "opi1")
	h.open("T:AI", 1)
	if err := h.s.LoadAccessFile(good); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "rights after load", h.take(), rightsMsg(1, AccessRead))
	if err := h.s.LoadAccessFile(bad); err == nil {
		t.Error("a bad file loaded")
	}
	if err := h.s.LoadAccessFile(filepath.Join(dir, "missing.acf")); err == nil {
		t.Error("a missing file loaded")
	}
	wantBytes(t, "rules kept after failed loads", h.take(), nil)
	out, _ := h.send(wire.AppendClientName(nil, "alice"))
	wantBytes(t, "alice may write", out, rightsMsg(1, ReadWrite))
}

func TestAccessRulesPanic(t *testing.T) {
	h := accessHarness(t, access.RulesFunc(func(string, string, string) access.Rights { panic("bad rules") }), "bob", "opi1")
	out, err := h.send(wire.AppendCreateChan(nil, 42, "T:AI"))
	if err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "create with panicking rules", out, createReply(42, 0, 0))
	h.s.SetAccessRules(nil)
	wantBytes(t, "rules replaced", h.take(), rightsMsg(42, ReadWrite))
}

func TestRuleHost(t *testing.T) {
	tests := []struct{ host, remote, want string }{
		{"OPI1.Example.ORG", "10.0.0.1:5000", "opi1.example.org"},
		{"", "10.0.0.1:5000", "10.0.0.1"},
		{"", "[::ffff:10.0.0.2]:5000", "10.0.0.2"},
		{"", "test", "test"},
		{"Ünï", "x", "Ünï"}, // ASCII letters only, as tolower in the C locale
	}
	for _, tc := range tests {
		if got := ruleHost(tc.host, tc.remote); got != tc.want {
			t.Errorf("ruleHost(%q, %q) = %q, want %q", tc.host, tc.remote, got, tc.want)
		}
	}
}

// Rights changes race with PV updates, the writer's encoding and puts;
// run under -race.
func TestAccessRightsConcurrentChanges(t *testing.T) {
	rules := new(swapRules).set(access.ReadWrite)
	h := accessHarness(t, rules, "bob", "opi1")
	sid := h.open("T:AI", 1)
	h.send(wire.AppendEventAdd(nil, uint16(dbr.Double), 1, sid, 5, uint16(dbr.EventValue)))
	h.take()
	pv := h.pvs["T:AI"]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pv.set(dbr.Doubles{float64(i)}, dbr.EventValue)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.updates()
		}
	})
	for i := range 200 {
		h.s.SetAccessRules(rules.set(access.Rights(i % 4)))
		if i%10 == 0 {
			h.send(mkMsg(wire.CmdWriteNotify, uint16(dbr.Double), 1, sid, 12, beF64(2)))
			h.runOps()
		}
	}
	close(stop)
	wg.Wait()
	h.s.SetAccessRules(rules.set(access.None))
	h.take()
	h.updates()
	pv.set(dbr.Doubles{-1}, dbr.EventValue)
	wantBytes(t, "no update once denied", h.updates(), nil)
}
