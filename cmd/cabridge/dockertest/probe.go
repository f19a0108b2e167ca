// Package dockertest tests the cabridge image in Docker: its test builds
// the image, runs it on a Docker network of its own next to a Modbus
// server container (modbussim), and reads the bridged PVs by UDP broadcast
// search from a third container (caprobe) and through the published TCP
// port from the host.
//
// The package's own code is ReadValid, which the test and caprobe share.
package dockertest

import (
	"context"
	"errors"
	"fmt"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
)

// ReadValid connects to names with c and waits, for each in turn, for a
// monitor update whose severity is not INVALID (a bridged PV is INVALID
// until its device first answered). It returns the values as doubles, in
// the order of names, or an error naming the first PV that had none when
// ctx ended.
func ReadValid(ctx context.Context, c *client.Client, names []string) ([]float64, error) {
	chans, err := c.ConnectMany(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		for _, ch := range chans {
			_ = ch.Close()
		}
	}()
	vals := make([]float64, len(names))
	for i, ch := range chans {
		v, err := firstValid(ctx, ch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		vals[i] = v
	}
	return vals, nil
}

// firstValid subscribes to ch and returns the value of the first update
// that is not INVALID.
func firstValid(ctx context.Context, ch *client.Channel) (float64, error) {
	got := make(chan float64, 1)
	invalid := make(chan dbr.Alarm, 1) // the newest INVALID alarm, for the error
	sub, err := ch.Subscribe(dbr.TimeDouble, 1, dbr.EventValue|dbr.EventAlarm, func(u client.Update) {
		if u.Err != nil {
			return // disconnected: the subscription comes back with the channel
		}
		d, ok := u.Value.(dbr.Doubles)
		if !ok || len(d) == 0 {
			return
		}
		if u.Meta.Severity == dbr.SeverityInvalid {
			select { // keep only the newest; this callback is the only sender
			case <-invalid:
			default:
			}
			invalid <- u.Meta.Alarm
			return
		}
		select {
		case got <- d[0]:
		default:
		}
	})
	if err != nil {
		return 0, fmt.Errorf("subscribe: %w", err)
	}
	defer func() { _ = sub.Cancel() }()
	select {
	case v := <-got:
		return v, nil
	case <-ctx.Done():
		select {
		case a := <-invalid:
			return 0, fmt.Errorf("still %v: %w", a, ctx.Err())
		default:
			return 0, errors.Join(errors.New("no update"), ctx.Err())
		}
	}
}
