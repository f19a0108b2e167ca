package ca

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cabridge/cabridge/ca/dbr"
)

// TestConcurrentNoTornSnapshots has writers publish arrays whose elements
// are all equal, with an alarm severity derived from that element, while
// readers, subscribers and subscribe/cancel churn run. Every snapshot seen
// must be uniform and consistent.
func TestConcurrentNoTornSnapshots(t *testing.T) {
	const (
		n       = 64
		writers = 4
		rounds  = 500
		readers = 2
	)
	d := NewDouble(Options{MaxLength: n})
	check := func(s *Snapshot) bool {
		v := s.Value.(dbr.Doubles)
		if len(v) == 0 {
			return true
		}
		for _, x := range v {
			if x != v[0] {
				return false
			}
		}
		return len(v) == n && s.Meta.Severity == dbr.Severity(int(v[0])%4)
	}
	var bad atomic.Int64
	sub := subscriberFunc(func(s *Snapshot, _ dbr.EventMask) {
		if !check(s) {
			bad.Add(1)
		}
	})
	d.Subscribe(sub)

	var done atomic.Bool
	var wg, rg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			buf := make([]float64, n)
			for i := range rounds {
				k := w*rounds + i
				for j := range buf {
					buf[j] = float64(k)
				}
				a := dbr.Alarm{Status: dbr.StatusHiHi, Severity: dbr.Severity(k % 4)}
				if err := d.Post(Post[float64]{Values: buf, Alarm: &a}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					d.SetUnits([]string{"V", "mV"}[i%20/10])
				}
			}
		})
	}
	// A put keeps the alarm, which would break the severity rule above, so
	// CA puts go to a second, scalar PV under the same load.
	l := NewLong(Options{})
	wg.Go(func() {
		for i := range int32(rounds) {
			if err := l.Put(context.Background(), dbr.Longs{i}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range readers {
		rg.Go(func() {
			for !done.Load() {
				if !check(d.Snapshot()) {
					bad.Add(1)
				}
				_ = l.Value()
			}
		})
	}
	rg.Go(func() {
		for i := 0; !done.Load() && i < 100000; i++ {
			cancel := d.Subscribe(sub)
			cancel()
			cancel()
		}
	})
	wg.Wait()
	done.Store(true)
	rg.Wait()
	if b := bad.Load(); b != 0 {
		t.Errorf("%d torn or inconsistent snapshots", b)
	}
	if l.Value() != rounds-1 {
		t.Errorf("last put = %d", l.Value())
	}
}

// TestConcurrentOrder checks that a subscriber sees a single writer's
// updates in order while other goroutines read.
func TestConcurrentOrder(t *testing.T) {
	const rounds = 2000
	d := NewLong(Options{})
	var last int32
	var bad atomic.Int64
	d.Subscribe(subscriberFunc(func(s *Snapshot, _ dbr.EventMask) {
		v := s.Value.(dbr.Longs)[0]
		if v != last+1 {
			bad.Add(1)
		}
		last = v
	}))
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !done.Load() {
			_ = d.Snapshot()
		}
	})
	for i := int32(1); i <= rounds; i++ {
		d.Set(i)
	}
	done.Store(true)
	wg.Wait()
	if bad.Load() != 0 || last != rounds {
		t.Errorf("out-of-order updates: %d, last %d", bad.Load(), last)
	}
}

// subscriberFunc adapts a function to Subscriber.
type subscriberFunc func(*Snapshot, dbr.EventMask)

func (f subscriberFunc) Update(s *Snapshot, m dbr.EventMask) { f(s, m) }
