package serial_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goserial "go.bug.st/serial"
)

// psu is a simulated SCPI-like power supply. Lines end in CRLF both ways.
//
//	*IDN?        -> CABRIDGE,PSU1,0,1.0
//	VOLT <v>     -> (no reply)            VOLT?  -> <v>
//	CURR <i>     -> OK                    CURR?  -> <i>
//	MEAS:VOLT?   -> <v>                   MEAS?  -> V=<v>;I=<i>
//	STAT?        -> STAT=<n>*<sum8 hex>   (a checksummed reply)
//	SET <n>*<xx> -> OK when xx is the sum8 of "SET <n>", else ERR
//	MODE?        -> OFF|ON|STANDBY        MODE <name> -> OK
//	GARBAGE?     -> ##garbage##
//	PARTIAL?     -> 1.2 (no terminator)
//	SILENT?      -> (never a reply)
//	WAVE?        -> 1.5,2.5,3.5
//
// While stalled it answers nothing. It counts the commands it received.
type psu struct {
	mu       sync.Mutex
	volt     float64
	curr     float64
	stat     int
	mode     string
	received []string
	stalled  atomic.Bool
	gauge    time.Duration // when > 0, also print "P=<p> mbar" every gauge unasked
	// gaugeSum appends "*<xor8 hex>" to the gauge lines, and spoils the
	// checksum of every third one.
	gaugeSum bool
}

// xor8hex returns the xor8 checksum of s in hex.
func xor8hex(s string) string {
	var c uint8
	for i := range len(s) {
		c ^= s[i]
	}
	return fmt.Sprintf("%02X", c)
}

func newPSU() *psu { return &psu{volt: 12.5, curr: 0.25, stat: 42, mode: "OFF"} }

// sum8hex returns the sum8 checksum of s in hex.
func sum8hex(s string) string {
	var c uint8
	for i := range len(s) {
		c += s[i]
	}
	return fmt.Sprintf("%02X", c)
}

// handle returns the reply to one command line, or "" for none; partial
// says the reply has no terminator.
func (p *psu) handle(line string) (reply string, partial bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.received = append(p.received, line)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	switch cmd, arg, _ := strings.Cut(line, " "); cmd {
	case "*IDN?":
		return "CABRIDGE,PSU1,0,1.0", false
	case "VOLT":
		if v, err := strconv.ParseFloat(arg, 64); err == nil {
			p.volt = v
		}
		return "", false
	case "VOLT?", "MEAS:VOLT?":
		return f(p.volt), false
	case "CURR":
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return "ERR", false
		}
		p.curr = v
		return "OK", false
	case "CURR?":
		return f(p.curr), false
	case "MEAS?":
		return "V=" + f(p.volt) + ";I=" + f(p.curr), false
	case "STAT?":
		s := "STAT=" + strconv.Itoa(p.stat) + "*"
		return s + sum8hex(s), false
	case "SET":
		body, sum, _ := strings.Cut(arg, "*")
		n, err := strconv.Atoi(body)
		if err != nil || sum != sum8hex("SET "+body+"*") {
			return "ERR", false
		}
		p.stat = n
		return "OK", false
	case "MODE?":
		return p.mode, false
	case "MODE":
		p.mode = arg
		return "OK", false
	case "SILENT?":
		return "", false
	case "GARBAGE?":
		return "##garbage##", false
	case "PARTIAL?":
		return "1.2", true
	case "WAVE?":
		return "1.5,2.5,3.5", false
	}
	return "ERR unknown command", false
}

// commands returns the commands received so far.
func (p *psu) commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.received...)
}

// count returns how many times cmd was received.
func (p *psu) count(cmd string) int {
	n := 0
	for _, c := range p.commands() {
		if c == cmd {
			n++
		}
	}
	return n
}

// serve answers commands on rw until it fails or stop is closed; pushes
// are unsolicited lines written as they come.
func (p *psu) serve(rw io.ReadWriter, pushes <-chan string, stop <-chan struct{}) {
	var wmu sync.Mutex
	write := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := io.WriteString(rw, s)
		return err
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Go(func() {
		var tick <-chan time.Time
		if p.gauge > 0 {
			t := time.NewTicker(p.gauge)
			defer t.Stop()
			tick = t.C
		}
		n := 0
		for {
			select {
			case <-done:
				return
			case <-stop:
				return
			case s := <-pushes:
				if write(s+"\r\n") != nil {
					return
				}
			case <-tick:
				n++
				line := fmt.Sprintf("P=%.2E mbar", float64(n)*1e-6)
				if p.gaugeSum {
					sum := xor8hex(line + "*")
					if n%3 == 0 {
						sum = "ZZ"
					}
					line += "*" + sum
				}
				if write(line+"\r\n") != nil {
					return
				}
			}
		}
	})
	br := bufio.NewReader(rw)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		reply, partial := p.handle(line)
		if reply == "" || p.stalled.Load() {
			continue
		}
		if !partial {
			reply += "\r\n"
		}
		if write(reply) != nil {
			return
		}
	}
}

// tcpInstrument serves a psu on 127.0.0.1:0; Stop closes the listener and
// every connection, Start listens again on the same port.
type tcpInstrument struct {
	t      *testing.T
	dev    *psu
	addr   string
	pushes chan string

	accepts atomic.Int32 // connections accepted

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newTCPInstrument starts serving dev.
func newTCPInstrument(t *testing.T, dev *psu) *tcpInstrument {
	t.Helper()
	s := &tcpInstrument{t: t, dev: dev, pushes: make(chan string, 16), conns: map[net.Conn]struct{}{}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start listens (again) and serves.
func (s *tcpInstrument) Start() {
	s.t.Helper()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the port of a stopped listener may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				stop := make(chan struct{})
				defer close(stop)
				s.dev.serve(c, s.pushes, stop)
				_ = c.Close()
			})
		}
	})
}

// Reset aborts the open connections with a TCP RST (the listener stays).
func (s *tcpInstrument) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
		delete(s.conns, c)
	}
}

// Stop closes the listener and the connections and waits.
func (s *tcpInstrument) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// socatHint says how to install socat.
const socatHint = "install with: sudo make peers (apt-get install socat)"

// requireSocat skips (or, with CI=true, fails) when socat is missing.
func requireSocat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("socat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("socat not found; %s", socatHint)
		}
		t.Skipf("socat not found; %s", socatHint)
	}
	return path
}

// ptyPair is a socat pty pair: the driver opens A, the instrument B.
type ptyPair struct {
	t      *testing.T
	socat  string
	A, B   string
	dev    *psu
	pushes chan string

	cmd  *exec.Cmd
	stop chan struct{}
	wg   sync.WaitGroup
}

// newPTY starts socat and the instrument on its B side.
func newPTY(t *testing.T, dev *psu) *ptyPair {
	t.Helper()
	dir := t.TempDir()
	p := &ptyPair{t: t, socat: requireSocat(t), A: filepath.Join(dir, "a"), B: filepath.Join(dir, "b"), dev: dev, pushes: make(chan string, 16)}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Start runs socat, waits (bounded) for its links, and serves the
// instrument on B.
func (p *ptyPair) Start() {
	p.t.Helper()
	_ = os.Remove(p.A)
	_ = os.Remove(p.B)
	p.cmd = exec.Command(p.socat, "-d", "-d", "pty,raw,echo=0,link="+p.A, "pty,raw,echo=0,link="+p.B)
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, errA := os.Stat(p.A)
		_, errB := os.Stat(p.B)
		if errA == nil && errB == nil {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("socat links did not appear within 10s: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond) // polling the file system: no event to wait on
	}
	port, err := goserial.Open(p.B, &goserial.Mode{BaudRate: 9600})
	if err != nil {
		p.t.Fatal(err)
	}
	p.stop = make(chan struct{})
	stop := p.stop
	p.wg.Go(func() {
		p.dev.serve(port, p.pushes, stop)
		_ = port.Close()
	})
}

// Stop kills socat (the ports vanish) and waits for the instrument.
func (p *ptyPair) Stop() {
	if p.cmd == nil {
		return
	}
	close(p.stop)
	_ = p.cmd.Process.Kill()
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.t.Errorf("socat: %v", err)
	}
	p.cmd = nil
	// A killed socat leaves its links behind, pointing at pty numbers
	// that the next pty of any process may reuse: remove them, so that
	// the port is really gone.
	_ = os.Remove(p.A)
	_ = os.Remove(p.B)
	p.wg.Wait()
}
