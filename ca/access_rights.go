package ca

import (
	"fmt"
	"net/netip"
	"runtime/debug"
	"sync/atomic"

	"github.com/cabridge/cabridge/ca/access"
	"github.com/cabridge/cabridge/ca/internal/wire"
)

// Access security: the rights a client has on a channel are
//
//	PV.Access() ∩ rules.Rights(group, user, host)
//
// where rules are the server's access rules (Server.AccessRules or the
// last SetAccessRules; nil rules leave PV.Access() alone), group is the
// PV's access security group (Server.AccessGroup, else AccessGrouper, else
// DEFAULT), user is the circuit's CLIENT_NAME and host its HOST_NAME
// lower-cased (ASCII only, as asLib does), or the client's IP address if it
// sent no HOST_NAME. Rights are computed when the channel is created and
// again when the rules are replaced or the client sends a new user or
// host name; each change is sent to the client as ACCESS_RIGHTS.
//
// Without read access READ_NOTIFY is answered with ECA_NORDACCESS and
// zeroed data, READ with an ERROR, and a subscription gets one update with
// ECA_NORDACCESS and zeroed data, then none until read access returns,
// when it gets the current value (as rsrv). Without write access WRITE
// gets an ERROR and WRITE_NOTIFY the status ECA_NOWTACCESS. The rights are
// checked when a request is executed, so a put queued before its rights
// were withdrawn is refused.

// AccessGrouper is an optional interface of a PV that belongs to an access
// security group (the ASG of an ACF). Server.AccessGroup, when set and not
// empty for the PV, takes precedence; a PV with neither is in DEFAULT.
type AccessGrouper interface {
	AccessGroup() string
}

// rulesBox holds the rules set by SetAccessRules, nil included.
type rulesBox struct{ r access.Rules }

// accessBits holds a channel's effective rights. They are stored with
// circuit.mu held and may be loaded without it (the put worker, the
// writer and PV goroutines do).
type accessBits struct{ v atomic.Uint32 }

func (a *accessBits) load() Access   { return Access(a.v.Load()) }
func (a *accessBits) store(r Access) { a.v.Store(uint32(r)) }

// accessRules returns the rules in force: the last SetAccessRules, else
// AccessRules.
func (s *Server) accessRules() access.Rules {
	if b := s.rules.Load(); b != nil {
		return b.r
	}
	return s.AccessRules
}

// SetAccessRules replaces the access rules (nil: every client gets what
// PV.Access allows), computes the rights of every channel of every
// connected client again and sends ACCESS_RIGHTS for each channel whose
// rights changed. Subscriptions that lose read access get one
// ECA_NORDACCESS update; those that regain it get the current value. It
// may be called at any time, before Listen too, and concurrently with
// itself: the rules of the last call are those in force when all return.
// It must not be called from an access.Rules method.
func (s *Server) SetAccessRules(r access.Rules) {
	s.rules.Store(&rulesBox{r: r})
	s.mu.Lock()
	cs := make([]*circuit, 0, len(s.circuits))
	for c := range s.circuits {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	changed := 0
	for _, c := range cs {
		c.mu.Lock()
		// Load the rules under c.mu: whichever call recomputes a circuit
		// last uses the rules stored last.
		changed += c.recomputeRights(s.accessRules())
		c.mu.Unlock()
	}
	s.logger().Info("ca: access rules replaced", "clients", len(cs), "channels_changed", changed)
}

// LoadAccessFile reads the access security file (ACF) at path and, if it
// parses, makes it the server's access rules (SetAccessRules). On error
// the rules in force are kept. It serves both the initial load (an
// IOC's --acf flag) and a reload at run time.
func (s *Server) LoadAccessFile(path string) error {
	cfg, err := access.Load(path)
	if err != nil {
		return fmt.Errorf("ca: access rules: %w", err)
	}
	s.SetAccessRules(cfg)
	return nil
}

// groupOf returns the access security group of pv served as name.
func (s *Server) groupOf(name string, pv PV) string {
	if s.AccessGroup != nil {
		if g := s.AccessGroup(name, pv); g != "" {
			return g
		}
	}
	if g, ok := pv.(AccessGrouper); ok {
		if n := g.AccessGroup(); n != "" {
			return n
		}
	}
	return access.DefaultGroup
}

// ruleHost returns the host name access rules see for a client that sent
// host (possibly empty) from the address remote ("ip:port").
func ruleHost(host, remote string) string {
	if host != "" {
		return asciiLower(host)
	}
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().String()
	}
	return remote
}

// asciiLower lower-cases ASCII letters only, as C's tolower in the C
// locale.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// rights computes the effective rights of ch on this circuit under rules.
// c.mu must be held (user and host); rules.Rights is called with it held.
// A panic in rules.Rights is logged and grants nothing.
func (c *circuit) rights(rules access.Rules, ch *channel) (r Access) {
	r = ch.pv.Access() & ReadWrite
	if rules == nil || r == 0 {
		return r
	}
	defer func() {
		if p := recover(); p != nil {
			c.srv.logger().Error("ca: panic in access rules", "pv", ch.name, "group", ch.group,
				"user", c.user, "host", c.asHost, "panic", p, "stack", string(debug.Stack()))
			r = 0
		}
	}()
	return r & Access(rules.Rights(ch.group, c.user, c.asHost))
}

// recomputeRights computes the rights of every channel again under rules
// and applies the changes (setRights). It returns the number of channels
// whose rights changed. c.mu must be held.
func (c *circuit) recomputeRights(rules access.Rules) int {
	n := 0
	for _, ch := range c.chans {
		if ch != nil && c.setRights(ch, c.rights(rules, ch)) {
			n++
		}
	}
	if n > 0 {
		c.wakeWriter()
	}
	return n
}

// setRights makes r the rights of ch. If they changed it queues
// ACCESS_RIGHTS and, if read access was lost or regained, one update per
// subscription of ch: the current snapshot, which the writer encodes as
// ECA_NORDACCESS with zeroed data while read access is missing. Queued
// updates are dropped first. It reports whether the rights changed. c.mu
// must be held.
func (c *circuit) setRights(ch *channel, r Access) bool {
	old := ch.access.load()
	if old == r {
		return false
	}
	ch.access.store(r)
	c.out = wire.AppendAccessRights(c.out, ch.cid, uint32(r))
	if (old^r)&AccessRead == 0 || len(ch.subs) == 0 {
		return true
	}
	snap := ch.pv.Snapshot()
	for _, sub := range ch.subs {
		c.subMu.Lock()
		if sub.canceled {
			c.subMu.Unlock()
			continue
		}
		clear(sub.q[:sub.n])
		sub.n = 0
		c.pushLocked(sub, snap)
	}
	return true
}
