package client

import "testing"

func TestOpTableStale(t *testing.T) {
	var tab opTable
	a, err := tab.add(op{kind: opGet, idx: 1})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := tab.take(a); !ok || o.idx != 1 {
		t.Fatalf("take(%#x) = %+v, %v", a, o, ok)
	}
	b, _ := tab.add(op{kind: opGet, idx: 2}) // reuses a's slot
	if idIndex(a) != idIndex(b) || a == b {
		t.Fatalf("ioids %#x and %#x: want the same slot, another generation", a, b)
	}
	tests := []struct {
		name string
		ioid uint32
	}{
		{"stale generation", a},
		{"zero", 0},
		{"out of range", 1000},
		{"unused slot", makeID(idIndex(b)+1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tab.take(tt.ioid); ok {
				t.Errorf("take(%#x) succeeded", tt.ioid)
			}
		})
	}
	if o, ok := tab.take(b); !ok || o.idx != 2 {
		t.Fatalf("take(%#x) = %+v, %v", b, o, ok)
	}
	if _, ok := tab.take(b); ok {
		t.Error("second take succeeded")
	}
	ch1, ch2 := &Channel{}, &Channel{}
	for i := range 10 {
		ch := ch1
		if i%2 == 1 {
			ch = ch2
		}
		if _, err := tab.add(op{ch: ch, idx: i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := tab.takeAll(nil, ch1); len(got) != 5 || tab.n != 5 {
		t.Errorf("takeAll(ch1): %d ops, %d left", len(got), tab.n)
	}
	if got := tab.takeAll(nil, nil); len(got) != 5 || tab.n != 0 {
		t.Errorf("takeAll(nil): %d ops, %d left", len(got), tab.n)
	}
}

func TestChanTable(t *testing.T) {
	var tab chanTable
	ch1, ch2 := &Channel{}, &Channel{}
	c1, _ := tab.alloc(ch1)
	if tab.get(c1) != ch1 || c1 == 0 {
		t.Fatalf("get(%#x) = %p", c1, tab.get(c1))
	}
	tab.release(c1, ch2) // not its owner: no effect
	if tab.get(c1) != ch1 {
		t.Fatal("release by a non-owner freed the slot")
	}
	tab.release(c1, ch1)
	c2, _ := tab.alloc(ch2)
	if idIndex(c1) != idIndex(c2) || tab.get(c1) != nil || tab.get(c2) != ch2 {
		t.Errorf("after reuse: cids %#x %#x, get old %p new %p", c1, c2, tab.get(c1), tab.get(c2))
	}
}
