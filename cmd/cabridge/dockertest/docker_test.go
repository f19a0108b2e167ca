package dockertest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cabridge/cabridge/ca/client"
	"github.com/cabridge/cabridge/ca/dbr"
	"github.com/cabridge/cabridge/cmd/cabridge/dockertest"
)

// bridgeConfig is the configuration the cabridge container serves: the
// registers modbussim holds, on the container the network knows as "plc".
const bridgeConfig = `# written by cmd/cabridge/dockertest
devices:
  - name: plc
    driver: modbus
    config: {transport: tcp, address: "plc:502", unit_id: 1, timeout: 500ms}
pvs:
  - {name: "dt:TEMP", scan: 100ms, binding: {device: plc, address: "hr:0", type: float32}}
  - {name: "dt:COUNT", scan: 100ms, binding: {device: plc, address: "hr:10", type: uint16}}
  - {name: "dt:RUN", scan: 100ms, binding: {device: plc, address: "coil:0", type: bool}}
  - {name: "dt:SP", direction: output, read_after_write: true, binding: {device: plc, address: "hr:20", type: uint16}}
`

// The line the CA server logs once it is listening.
const listeningLine = `msg="ca: listening"`

// TestDocker builds the image (checking its user and the configuration it
// carries) and runs it on a network of its own next to a Modbus server
// container. It reads the PVs by UDP broadcast search
// from a third container and through the published TCP port from the
// host (EPICS_CA_NAME_SERVERS), checks Docker's HEALTHCHECK, writes a
// setpoint through to the PLC, restarts the container and reads again,
// then stops it and measures the clean shutdown.
func TestDocker(t *testing.T) {
	d := newDocker(t)
	start := time.Now()
	// The PVs read everywhere, and what modbussim makes them.
	readPVs := []string{"dt:TEMP", "dt:COUNT", "dt:RUN", "dt:SP", "cabridge:plc:CONNECTED"}
	readVals := []float64{21.5, 1234, 1, 50, 1}
	arch := d.must(time.Minute, "version", "--format", "{{.Server.Arch}}")

	// Binaries and images.
	bin := t.TempDir()
	buildBinaries(t, bin, arch)
	t.Logf("binaries built in %v", time.Since(start).Round(time.Millisecond))
	image := "cabridge-dockertest:" + d.id
	tools := "cabridge-dockertest-tools:" + d.id
	d.cleanup("rmi", "-f", image, tools)
	d.buildImage(image, cabridgeContext(t, bin))
	d.buildImage(tools, toolsContext(t, bin))
	size := d.must(time.Minute, "image", "inspect", "-f", "{{.Size}}", image)
	t.Logf("images built after %v; cabridge image %s bytes", time.Since(start).Round(time.Millisecond), size)
	if user := d.must(time.Minute, "image", "inspect", "-f", "{{.Config.User}}", image); user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", user)
	}
	// The image carries the demo configuration where run looks by default.
	if out := d.must(time.Minute, "run", "--rm", "--name", d.container("validate"), image,
		"validate", "/etc/cabridge/cabridge.yaml"); !strings.HasPrefix(out, "/etc/cabridge/cabridge.yaml: ok") {
		t.Errorf("validate of the baked-in configuration printed %q", out)
	}

	// A network of our own, and the PLC on it.
	network := "cbdt-" + d.id
	d.must(time.Minute, "network", "create", network)
	d.cleanup("network", "rm", network)
	subnet := d.must(time.Minute, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", network)
	bcast, err := broadcast(subnet)
	if err != nil {
		t.Fatal(err)
	}
	plc := d.container("plc")
	d.must(time.Minute, "run", "-d", "--name", plc, "--network", network, "--network-alias", "plc",
		tools, "/modbussim", "-listen", ":502")
	if err := d.waitOutput(30*time.Second, "modbussim: listening", 1, "logs", "-f", plc); err != nil {
		t.Fatal(err)
	}

	// The bridge, its config mounted where the image looks for it.
	cfg := filepath.Join(t.TempDir(), "cabridge.yaml")
	if err := os.WriteFile(cfg, []byte(bridgeConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	bridge := d.container("bridge")
	created := time.Now()
	d.must(time.Minute, "run", "-d", "--name", bridge, "--network", network,
		"-p", "127.0.0.1::5064/tcp", "-v", cfg+":/etc/cabridge/cabridge.yaml:ro",
		"-e", "CABRIDGE_HEALTH_PV=cabridge:plc:CONNECTED", "--health-interval", "1s",
		image)
	if err := d.waitOutput(30*time.Second, listeningLine, 1, "logs", "-f", bridge); err != nil {
		t.Fatal(err)
	}
	t.Logf("bridge listening %v after docker run", time.Since(created).Round(time.Millisecond))

	// (a) From a container on the network, by UDP broadcast search.
	probe := func(n int) {
		t.Helper()
		name := d.container(fmt.Sprintf("probe%d", n))
		args := []string{"run", "--name", name, "--network", network,
			"-e", "EPICS_CA_AUTO_ADDR_LIST=NO", "-e", "EPICS_CA_ADDR_LIST=" + bcast.String(),
			tools, "/caprobe", "-w", "30s"}
		out, err := d.run(time.Minute, append(args, readPVs...)...)
		if err != nil {
			t.Fatalf("probe by broadcast to %v: %v", bcast, err)
		}
		var want strings.Builder
		for i, pv := range readPVs {
			fmt.Fprintf(&want, "%s %g\n", pv, readVals[i])
		}
		if out != strings.TrimSpace(want.String()) {
			t.Fatalf("probe by broadcast to %v read\n%s\nwant\n%s", bcast, out, want.String())
		}
	}
	probe(1)

	// (b) From the host, by TCP name server through the published port.
	fromHost := func(what string) {
		t.Helper()
		addr := d.must(time.Minute, "port", bridge, "5064/tcp")
		addr, _, _ = strings.Cut(addr, "\n")
		got, err := readFromHost(t, addr, readPVs)
		if err != nil {
			t.Fatalf("%s: host read through %s: %v", what, addr, err)
		}
		if !slices.Equal(got, readVals) {
			t.Fatalf("%s: host read %v of %v, want %v", what, got, readPVs, readVals)
		}
	}
	fromHost("first start")

	// The healthcheck: by hand, and as Docker runs it.
	if out := d.must(time.Minute, "exec", bridge, "/cabridge", "healthcheck"); out != "ok: cabridge:plc:CONNECTED 1" {
		t.Errorf("healthcheck (of $CABRIDGE_HEALTH_PV) printed %q", out)
	}
	if out := d.must(time.Minute, "exec", "-e", "CABRIDGE_HEALTH_PV=", bridge, "/cabridge", "healthcheck"); out != "ok: CA server 127.0.0.1:5064 answered (CA 4.13)" {
		t.Errorf("healthcheck (handshake) printed %q", out)
	}
	if _, err := d.run(time.Minute, "exec", bridge, "/cabridge", "healthcheck", "-pv", "dt:NONE", "-timeout", "500ms"); err == nil {
		t.Error("healthcheck of a PV that is not served succeeded")
	}
	if err := d.waitOutput(time.Minute, "health_status: healthy", 1,
		"events", "--since", fmt.Sprint(created.Add(-time.Second).Unix()), "--filter", "container="+bridge); err != nil {
		t.Errorf("docker never found the container healthy: %v", err)
	}

	// A write goes through to the PLC: after the restart, the setpoint
	// starts from what the PLC holds.
	putFromHost(t, d.must(time.Minute, "port", bridge, "5064/tcp"), "dt:SP", 77)
	readVals[3] = 77

	// A restart serves the same PVs again.
	t0 := time.Now()
	d.must(time.Minute, "restart", "-t", "30", bridge)
	if err := d.waitOutput(30*time.Second, listeningLine, 2, "logs", "-f", bridge); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: listening again after %v", time.Since(t0).Round(time.Millisecond))
	fromHost("after restart")
	probe(2)

	// SIGTERM: a clean exit within a few seconds, well before docker's own
	// kill (60 s here).
	t0 = time.Now()
	d.must(90*time.Second, "stop", "-t", "60", bridge)
	stopped := time.Since(t0)
	state := d.must(time.Minute, "inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", bridge)
	t.Logf("docker stop took %v; exit code and OOM: %s", stopped.Round(time.Millisecond), state)
	if state != "0 false" {
		t.Errorf("after SIGTERM: exit code and OOMKilled %q, want \"0 false\"", state)
	}
	if stopped > 10*time.Second {
		t.Errorf("docker stop took %v, want a clean shutdown within 10s", stopped)
	}
	t.Logf("TestDocker took %v", time.Since(start).Round(time.Millisecond))
}

// readFromHost reads pvs from the host through the name server addr.
func readFromHost(t *testing.T, addr string, pvs []string) ([]float64, error) {
	c, err := client.New(client.Config{NameServers: []string{addr}, ClientName: "dockertest"})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return dockertest.ReadValid(ctx, c, pvs)
}

// putFromHost writes v to pv with a put callback and checks the
// readback.
func putFromHost(t *testing.T, addr, pv string, v int32) {
	t.Helper()
	addr, _, _ = strings.Cut(addr, "\n")
	c, err := client.New(client.Config{NameServers: []string{addr}, ClientName: "dockertest"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ch, err := c.Connect(ctx, pv)
	if err != nil {
		t.Fatalf("connect %s through %s: %v", pv, addr, err)
	}
	if err := ch.PutWait(ctx, dbr.Longs{v}); err != nil {
		t.Fatalf("put %s: %v", pv, err)
	}
	got, _, err := ch.Get(ctx, dbr.Double, 1)
	if err != nil || !slices.Equal(got.(dbr.Doubles), dbr.Doubles{float64(v)}) {
		t.Fatalf("%s after the put: %v, %v; want %d", pv, got, err, v)
	}
}

// broadcast returns the broadcast address of the first IPv4 subnet in
// the list Docker printed.
func broadcast(subnets string) (netip.Addr, error) {
	for _, s := range strings.Fields(subnets) {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			continue
		}
		a := p.Masked().Addr().As4()
		host := uint32(1)<<(32-p.Bits()) - 1
		for i := range 4 {
			a[i] |= byte(host >> (24 - 8*i))
		}
		return netip.AddrFrom4(a), nil
	}
	return netip.Addr{}, fmt.Errorf("no IPv4 subnet in %q", subnets)
}

// docker runs the docker CLI for one test. Every name it makes ends in
// id, and what the test creates is removed when it ends, failed or not.
type docker struct {
	t  *testing.T
	id string
}

// newDocker skips t (fails it when CI=true) if no Docker engine answers.
func newDocker(t *testing.T) *docker {
	t.Helper()
	d := &docker{t: t}
	if out, err := d.run(20*time.Second, "version", "--format", "{{.Server.Version}}"); err != nil || out == "" {
		msg := fmt.Sprintf("no Docker engine answers (%v); install Docker and start its daemon", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	d.id = hex.EncodeToString(b)
	return d
}

// container returns the name of the test's container called role.
func (d *docker) container(role string) string {
	name := "cbdt-" + d.id + "-" + role
	d.t.Cleanup(func() {
		if d.t.Failed() {
			if out, err := d.run(time.Minute, "logs", "--tail", "40", name); err == nil && out != "" {
				d.t.Logf("last lines of %s:\n%s", name, out)
			}
		}
		if _, err := d.run(time.Minute, "rm", "-f", "-v", name); err != nil && !strings.Contains(err.Error(), "No such container") {
			d.t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// cleanup runs docker with args when the test ends.
func (d *docker) cleanup(args ...string) {
	d.t.Cleanup(func() {
		if _, err := d.run(2*time.Minute, args...); err != nil {
			d.t.Errorf("cleanup: %v", err)
		}
	})
}

// run runs docker with args and returns its standard output, trimmed;
// the error has the standard error.
func (d *docker) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout) // also used in cleanups
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// must is run that fails the test on error.
func (d *docker) must(timeout time.Duration, args ...string) string {
	d.t.Helper()
	out, err := d.run(timeout, args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// buildImage builds dir's Dockerfile into tag. --no-cache: the legacy
// builder's cache ignores the platform (see the Dockerfile).
func (d *docker) buildImage(tag, dir string) {
	d.t.Helper()
	d.must(3*time.Minute, "build", "-q", "--no-cache", "-t", tag, dir)
}

// waitOutput runs docker with args (a command that follows something:
// logs -f, events) until its output has had n lines containing substr,
// or the command ends, or timeout passes.
func (d *docker) waitOutput(timeout time.Duration, substr string, n int, args ...string) error {
	ctx, cancel := context.WithTimeout(d.t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("docker %s: %w", strings.Join(args, " "), err)
	}
	var wg sync.WaitGroup
	var waitErr error
	wg.Go(func() { waitErr = cmd.Wait(); _ = pw.Close() })
	found := 0
	var last []string
	sc := bufio.NewScanner(pr)
	for found < n && sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			found++
		}
		last = append(last, sc.Text())
		if len(last) > 20 {
			last = last[1:]
		}
	}
	cancel()
	_, _ = io.Copy(io.Discard, pr) // until Wait closed the pipe
	wg.Wait()
	if found < n {
		why := "it ended"
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			why = fmt.Sprintf("%v passed", timeout)
		} else if waitErr != nil {
			why = waitErr.Error()
		}
		return fmt.Errorf("docker %s: %d of %d lines with %q before %s; last lines:\n%s",
			strings.Join(args, " "), found, n, substr, why, strings.Join(last, "\n"))
	}
	return nil
}

// buildBinaries builds cabridge, modbussim and caprobe, static, for
// linux/goarch into dir.
func buildBinaries(t *testing.T, dir, goarch string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+string(filepath.Separator),
		"github.com/cabridge/cabridge/cmd/cabridge", "./modbussim", "./caprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// cabridgeContext assembles the build context of the repository's
// Dockerfile around the binary in bin, and returns its directory.
func cabridgeContext(t *testing.T, bin string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(root, "Dockerfile"):                        "Dockerfile",
		filepath.Join(root, "configs", "demo.yaml"):              "configs/demo.yaml",
		filepath.Join(root, "deploy", "docker", "etc", "passwd"): "deploy/docker/etc/passwd",
		filepath.Join(root, "deploy", "docker", "etc", "group"):  "deploy/docker/etc/group",
		filepath.Join(bin, "cabridge"):                           "bin/cabridge",
	} {
		copyFile(t, src, filepath.Join(dir, filepath.FromSlash(dst)))
	}
	return dir
}

// toolsContext is the build context of an image holding modbussim and
// caprobe.
func toolsContext(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(bin, "modbussim"), filepath.Join(dir, "modbussim"))
	copyFile(t, filepath.Join(bin, "caprobe"), filepath.Join(dir, "caprobe"))
	df := "FROM scratch\nCOPY modbussim caprobe /\nUSER 65532:65532\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyFile copies src to dst, creating dst's directory, keeping the mode.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}
