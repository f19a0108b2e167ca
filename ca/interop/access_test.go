package interop_test

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/access"
	"github.com/cabridge/cabridge/ca/dbr"
)

// groupPV puts a PV in an access security group.
type groupPV struct {
	ca.PV
	group string
}

func (p groupPV) AccessGroup() string { return p.group }

type accessState struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
}

type accessResult struct {
	Phase  string                 `json:"phase"`
	PV     accessState            `json:"pv"`
	Locked accessState            `json:"locked"`
	Extra  map[string]accessState `json:"extra"`
	Put    struct {
		Status  *int `json:"status"`
		Request *int `json:"request_status"`
	} `json:"put"`
	Readback dbrResult            `json:"readback"`
	Events   map[string][][2]bool `json:"events"`
	Sub      []dbrResult          `json:"sub"`
}

const (
	ecaNoRdAccess = 368
	ecaNoWtAccess = 376
)

// acf builds the test's ACF: this user may write DEFAULT PVs only from the
// hosts in consoles; USERS PVs from anywhere; LOCKED PVs grant what
// lockedRules (a rule block or "": no rules, nothing) say.
func acf(t *testing.T, userName string, consoles []string, lockedRules string) access.Rules {
	t.Helper()
	q := func(names ...string) string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = strconv.Quote(n)
		}
		return strings.Join(out, ", ")
	}
	text := fmt.Sprintf(`UAG(ops) {%s}
HAG(consoles) {%s}
ASG(DEFAULT) {
	RULE(1, READ)
	RULE(1, WRITE) {
		UAG(ops)
		HAG(consoles)
	}
}
ASG(USERS) {
	RULE(1, READ)
	RULE(1, WRITE) {
		UAG(ops)
	}
}
ASG(LOCKED)%s
`, q(userName), q(consoles...), lockedRules)
	cfg, err := access.Parse(strings.NewReader(text), "test.acf")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return cfg
}

// TestAccessSecurity: libca (pyepics) sees the rights an ACF gives its
// user and host, a put without write access is refused, and after the
// server's rules are replaced at run time the same connected channels
// report the new rights, the put succeeds and a subscription denied read
// access gets the current value.
func TestAccessSecurity(t *testing.T) {
	requirePeer(t)
	u, err := user.Current()
	if err != nil {
		t.Skipf("no user name: %v", err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	d := ca.NewDouble(ca.Options{}, 1.5)
	locked := groupPV{ca.NewDouble(ca.Options{}, 2.5), "LOCKED"}
	users := groupPV{ca.NewDouble(ca.Options{}, 3.5), "USERS"}
	srv := startServer(t, map[string]ca.PV{"acc:d": d, "acc:locked": locked, "acc:users": users}, nil)
	s := srv.Server.Server
	// libca sends the local user and host names: DEFAULT PVs are read-only
	// for them from this host, USERS PVs writable, LOCKED PVs closed.
	s.SetAccessRules(acf(t, u.Username, []string{"not-" + host}, ""))

	p := startPy(t, 60*time.Second, "access.py", srv.Env(),
		map[string]any{"pv": "acc:d", "locked": "acc:locked", "extra": []string{"acc:users"}, "value": 42.0})
	var r accessResult
	p.next(&r)
	if r.Phase != "denied" {
		t.Fatalf("first phase: %+v", r)
	}
	if r.PV != (accessState{Read: true}) {
		t.Errorf("acc:d rights before: %+v, want read only", r.PV)
	}
	if r.Locked != (accessState{}) {
		t.Errorf("acc:locked rights before: %+v, want none", r.Locked)
	}
	if got := r.Extra["acc:users"]; got != (accessState{Read: true, Write: true}) {
		t.Errorf("acc:users rights: %+v, want read and write (user %q in UAG ops)", got, u.Username)
	}
	if r.Put.Request == nil || *r.Put.Request != ecaNoWtAccess {
		t.Errorf("put without write access: %+v, want request status ECA_NOWTACCESS", r.Put)
	}
	if len(r.Sub) != 1 || r.Sub[0].Status != ecaNoRdAccess {
		t.Errorf("subscription without read access: %+v, want one ECA_NORDACCESS update", r.Sub)
	}
	if v := d.Snapshot().Value.(dbr.Doubles)[0]; v != 1.5 {
		t.Errorf("acc:d = %v after a refused put", v)
	}

	// Replace the rules: this host is now a console and LOCKED readable.
	s.SetAccessRules(acf(t, u.Username, []string{"not-" + host, host}, " {\n\tRULE(1, READ)\n}"))
	p.next(&r)
	p.wait()
	if r.Phase != "granted" {
		t.Fatalf("second phase: %+v", r)
	}
	if r.PV != (accessState{Read: true, Write: true}) {
		t.Errorf("acc:d rights after: %+v", r.PV)
	}
	if r.Locked != (accessState{Read: true}) {
		t.Errorf("acc:locked rights after: %+v", r.Locked)
	}
	if ev := r.Events["acc:d"]; len(ev) == 0 || ev[len(ev)-1] != [2]bool{true, true} {
		t.Errorf("acc:d access-rights callbacks: %v, want the last to be read+write", ev)
	}
	if ev := r.Events["acc:locked"]; len(ev) == 0 || ev[len(ev)-1] != [2]bool{true, false} {
		t.Errorf("acc:locked access-rights callbacks: %v, want the last to be read only", ev)
	}
	if r.Put.Status == nil || *r.Put.Status != ecaNormal {
		t.Errorf("put with write access: %+v", r.Put)
	}
	if len(r.Readback.Value) != 1 || r.Readback.Value[0] != 42.0 {
		t.Errorf("readback: %+v", r.Readback)
	}
	if v := d.Snapshot().Value.(dbr.Doubles)[0]; v != 42 {
		t.Errorf("acc:d = %v on the server, want 42", v)
	}
	if len(r.Sub) != 2 || r.Sub[1].Status != ecaNormal || len(r.Sub[1].Value) != 1 || r.Sub[1].Value[0] != 2.5 {
		t.Errorf("subscription after read access returned: %+v, want the current value 2.5", r.Sub)
	}
}
