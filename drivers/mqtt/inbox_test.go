package mqtt

import (
	"fmt"
	"testing"
	"time"
)

// TestInboxNeverBlocks: paho's handler only queues. With nobody taking,
// puts of new topics stop at maxPending (counted as dropped) and puts of
// a waiting topic replace its message; none of them blocks.
func TestInboxNeverBlocks(t *testing.T) {
	b := inbox{msgs: map[string]message{}, notify: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range maxPending + 100 {
			b.put(message{topic: fmt.Sprintf("t/%d", i), payload: []byte("x")})
		}
		for i := range 1000 {
			b.put(message{topic: "t/0", payload: fmt.Appendf(nil, "%d", i)})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("put blocked")
	}
	ms, dropped := b.take()
	if dropped != 100 {
		t.Errorf("dropped %d, want 100", dropped)
	}
	if len(ms) != maxPending || ms[0].topic != "t/0" || string(ms[0].payload) != "999" {
		t.Errorf("take: %d messages, first %q %q", len(ms), ms[0].topic, ms[0].payload)
	}
	if ms, dropped := b.take(); len(ms) != 0 || dropped != 0 {
		t.Error("second take not empty")
	}
}
