// Command modbussim serves a fixed Modbus TCP register table (unit 1) on
// all interfaces, for the Docker tests:
//
//	modbussim [-listen :502]
//
// The table (drivers/modbus/modbustest serves it; modbussim forwards the
// connections it accepts to that loopback server):
//
//	hr:0-1  float32 21.5 (ABCD)
//	hr:10   uint16 1234
//	hr:20   uint16 50 (a setpoint; writes are kept)
//	coil:0  on
//
// It logs "modbussim: listening on ADDR" when ready and stops on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/cabridge/cabridge/drivers/modbus/modbustest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "modbussim: %v\n", err)
		os.Exit(1) //nolint:forbidigo // the tiny main of a command, as cmd/cabridge/main.go
	}
}

func run(ctx context.Context, args []string, log io.Writer) error {
	fs := flag.NewFlagSet("modbussim", flag.ContinueOnError)
	listen := fs.String("listen", ":502", "TCP address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := modbustest.Start(modbustest.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	temp := math.Float32bits(21.5)
	srv.Set(1, modbustest.HoldingRegisters, 0, uint16(temp>>16), uint16(temp))
	srv.Set(1, modbustest.HoldingRegisters, 10, 1234)
	srv.Set(1, modbustest.HoldingRegisters, 20, 50)
	srv.Set(1, modbustest.Coils, 0, 1)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(log, "modbussim: listening on %v\n", ln.Addr())
	f := &forwarder{to: srv.Addr(), conns: map[net.Conn]struct{}{}}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close(); f.closeAll() })
	defer stop()
	err = f.serve(ln)
	f.closeAll()
	f.wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(log, "modbussim: stopped")
		return nil
	}
	return err
}

// forwarder relays each accepted connection to the Modbus server at to.
// It owns the goroutines of the relays; wg waits for them.
type forwarder struct {
	to string
	wg sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (f *forwarder) serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		up, err := net.Dial("tcp", f.to)
		if err != nil {
			_ = c.Close()
			return fmt.Errorf("dial the Modbus server: %w", err)
		}
		if !f.track(c, up) {
			return nil
		}
		f.wg.Go(func() { f.relay(c, up) })
		f.wg.Go(func() { f.relay(up, c) })
	}
}

// track records the pair of connections, or closes them and returns false
// after closeAll.
func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

// relay copies src to dst until either side fails, then closes both.
func (f *forwarder) relay(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
}

// closeAll closes every relayed connection and refuses new ones.
func (f *forwarder) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
}
