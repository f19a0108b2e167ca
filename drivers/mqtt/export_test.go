package mqtt

import (
	"maps"
	"slices"
	"sync"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// recorder wraps a client and records the filters it subscribes to.
type recorder struct {
	client
	mu      *sync.Mutex
	filters *[]string
}

func (r recorder) SubscribeMultiple(filters map[string]byte, cb paho.MessageHandler) paho.Token {
	r.mu.Lock()
	*r.filters = append(*r.filters, slices.Sorted(maps.Keys(filters))...)
	r.mu.Unlock()
	return r.client.SubscribeMultiple(filters, cb)
}

// RecordSubscriptions makes d's future clients record their
// subscriptions (still made to the real broker) and returns a function
// that lists them. Call it before Open.
func RecordSubscriptions(d *Device) func() []string {
	var mu sync.Mutex
	var filters []string
	next := d.newClient
	d.newClient = func(o *paho.ClientOptions) client {
		return recorder{client: next(o), mu: &mu, filters: &filters}
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(filters)
	}
}
