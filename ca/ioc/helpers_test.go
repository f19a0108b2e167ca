package ioc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/catest"
	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/eca"
	"github.com/cabridge/cabridge/ca/ioc"
)

// serve serves g's PVs on a catest server and runs g's hooks and scans
// until the test ends.
func serve(t *testing.T, g *ioc.Group) *catest.Server {
	t.Helper()
	pvs, err := g.PVs()
	if err != nil {
		t.Fatal(err)
	}
	srv := catest.NewServer(t, pvs)
	r, err := ioc.Start(t.Context(), nil, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// connect returns a channel to name from a new client of srv.
func connect(t *testing.T, srv *catest.Server, name string) *client.Channel {
	t.Helper()
	c, err := client.New(client.Config{NameServers: []string{srv.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, name)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	return ch
}

// tctx returns a context that ends after 10 s or with the test.
func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// code returns the ECA status of err (Normal for nil).
func code(err error) eca.Code {
	if err == nil {
		return eca.Normal
	}
	var e *eca.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return eca.Internal
}
