package autosave

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cabridge/cabridge/ca"
)

// containers returns one container of every type, with values that test
// the format (gen 1) or different, plain ones (gen 0).
func containers(gen int) []Entry {
	enumStates := []string{"Off", "On", "Auto"}
	if gen == 0 {
		return []Entry{
			{"D", ca.NewDouble(ca.Options{}, 0)},
			{"D:NAN", ca.NewDouble(ca.Options{}, 0)},
			{"D:ARR", ca.NewDouble(ca.Options{MaxLength: 8})},
			{"D:EMPTY", ca.NewDouble(ca.Options{MaxLength: 8}, 1, 2)},
			{"F", ca.NewFloat(ca.Options{}, 0)},
			{"F:ARR", ca.NewFloat(ca.Options{MaxLength: 4})},
			{"L", ca.NewLong(ca.Options{}, 0)},
			{"L:ARR", ca.NewLong(ca.Options{MaxLength: 4})},
			{"S", ca.NewShort(ca.Options{}, 0)},
			{"B", ca.NewByte(ca.Options{}, 0)},
			{"B:ARR", ca.NewByte(ca.Options{MaxLength: 8})},
			{"E", ca.NewEnum(ca.Options{}, enumStates, 0)},
			{"E:ARR", ca.NewEnum(ca.Options{MaxLength: 4}, nil)},
			{"STR", ca.NewString(ca.Options{}, "")},
			{"STR:ARR", ca.NewString(ca.Options{MaxLength: 4})},
			{"LS$", ca.NewChar(ca.Options{MaxLength: 200}, "")},
		}
	}
	return []Entry{
		{"D", ca.NewDouble(ca.Options{}, math.Nextafter(0.3, 1))},
		{"D:NAN", ca.NewDouble(ca.Options{}, math.Float64frombits(0x7ff8000000000000))},
		{"D:ARR", ca.NewDouble(ca.Options{MaxLength: 8}, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), math.SmallestNonzeroFloat64, -1e300)},
		{"D:EMPTY", ca.NewDouble(ca.Options{MaxLength: 8})},
		{"F", ca.NewFloat(ca.Options{}, 0.1)},
		{"F:ARR", ca.NewFloat(ca.Options{MaxLength: 4}, float32(math.NaN()), math.MaxFloat32, -1.5)},
		{"L", ca.NewLong(ca.Options{}, math.MinInt32)},
		{"L:ARR", ca.NewLong(ca.Options{MaxLength: 4}, 1, -2, math.MaxInt32)},
		{"S", ca.NewShort(ca.Options{}, -32768)},
		{"B", ca.NewByte(ca.Options{}, 255)},
		{"B:ARR", ca.NewByte(ca.Options{MaxLength: 8}, 0, 104, 105, 0, 255)},
		{"E", ca.NewEnum(ca.Options{}, enumStates, 2)},
		{"E:ARR", ca.NewEnum(ca.Options{MaxLength: 4}, nil, 7, 0, 65535)},
		{"STR", ca.NewString(ca.Options{}, "a \"q\"\n\tb\\ # c")},
		{"STR:ARR", ca.NewString(ca.Options{MaxLength: 4}, "x y", "", "\xff\x01")},
		{"LS$", ca.NewChar(ca.Options{MaxLength: 200}, strings.Repeat("long \"text\"\nwith lines; ", 5))},
	}
}

func newTestSaver(t *testing.T, path string, pvs []Entry, interval time.Duration) *Saver {
	t.Helper()
	s, err := New(Config{Path: path, PVs: pvs, MinInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripContainers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ioc.sav")
	src := containers(1)
	if err := newTestSaver(t, path, src, 0).Save(); err != nil {
		t.Fatal(err)
	}
	dst := containers(0)
	if err := newTestSaver(t, path, dst, 0).Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range src {
		want, got := src[i].PV.Snapshot().Value, dst[i].PV.Snapshot().Value
		if !sameValue(got, want) {
			t.Errorf("%s: restored %#v, want %#v", src[i].Name, got, want)
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(path)
		t.Logf("file:\n%s", b)
	}
}

func TestSaveSkipsUnchanged(t *testing.T) {
	fsys := &fakeFS{}
	d := ca.NewDouble(ca.Options{}, 1)
	s := newTestSaver(t, filepath.Join(t.TempDir(), "x.sav"), []Entry{{"D", d}}, 0)
	s.fs = fsys
	for range 3 {
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
	}
	d.Set(2)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if n := fsys.writes(); n != 2 {
		t.Errorf("%d writes, want 2 (one per distinct content)", n)
	}
}

func TestRestoreErrors(t *testing.T) {
	content := Header + "\n" +
		"A double 1.5\n" +
		"B long 12x\n" + // corrupt: line 3
		"C string \"hi\"\n" +
		"RO double 3\n" + // read-only PV: line 5
		"UNKNOWN long 1\n" + // not configured: skipped, no error
		"E enum 9\n" + // no such state: line 7
		"\n" +
		"# comment\n" +
		"D \"quoted name\n" + // corrupt: line 10
		"<END>\n"
	a := ca.NewDouble(ca.Options{}, 0)
	b := ca.NewLong(ca.Options{}, 4)
	c := ca.NewString(ca.Options{}, "")
	ro := ca.NewDouble(ca.Options{ReadOnly: true}, 0)
	e := ca.NewEnum(ca.Options{}, []string{"x", "y"}, 1)
	path := filepath.Join(t.TempDir(), "bad.sav")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newTestSaver(t, path, []Entry{{"A", a}, {"B", b}, {"C", c}, {"RO", ro}, {"E", e}}, 0)
	err := s.Restore(t.Context())
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ae *Error
		if !errors.As(e, &ae) {
			t.Fatalf("error %v is not an *Error", e)
		}
		if ae.Path != path {
			t.Errorf("error %v: path %q", e, ae.Path)
		}
		lines = append(lines, ae.Line)
	}
	if want := []int{3, 5, 7, 10}; !equalInts(lines, want) {
		t.Errorf("error lines %v, want %v; error:\n%v", lines, want, err)
	}
	if !strings.Contains(err.Error(), path+":3: ") {
		t.Errorf("error does not name file:line: %v", err)
	}
	if !errors.Is(err, ca.ErrReadOnly) || !errors.Is(err, ca.ErrInvalid) {
		t.Errorf("error does not wrap the put errors: %v", err)
	}
	// The good lines were restored, the bad ones left the PVs alone.
	if a.Value() != 1.5 || c.Value() != "hi" || b.Value() != 4 || e.Value() != 1 {
		t.Errorf("A=%v B=%v C=%q E=%v", a.Value(), b.Value(), c.Value(), e.Value())
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRestoreTruncated(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          float64
		err           string
	}{
		{"no end", Header + "\nA double 2\n", 2, "no <END> line"},
		{"cut mid line", Header + "\nA double 2\nB double 1.2", 2, ":3: incomplete last line"},
		{"value after end", Header + "\n<END>\nA double 2\n", 0, ":3: A: value after <END>"},
		{"empty file", "", 0, "no <END> line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.sav")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			a, b := ca.NewDouble(ca.Options{}, 0), ca.NewDouble(ca.Options{}, 0)
			err := newTestSaver(t, path, []Entry{{"A", a}, {"B", b}}, 0).Restore(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
			if a.Value() != tc.want || b.Value() != 0 {
				t.Errorf("A=%v B=%v, want %v 0", a.Value(), b.Value(), tc.want)
			}
		})
	}
}

func TestRestoreMissingAndBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.sav")
	d := ca.NewDouble(ca.Options{}, 1)
	s := newTestSaver(t, path, []Entry{{"D", d}}, 0)
	if err := s.Restore(t.Context()); err != nil {
		t.Fatalf("missing file: %v", err)
	}
	// Two saves: the first version becomes the backup.
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	d.Set(2)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	bak, err := os.ReadFile(path + ".bak")
	if err != nil || !strings.Contains(string(bak), "D double 1\n") {
		t.Fatalf("backup %q, %v", bak, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d2 := ca.NewDouble(ca.Options{}, 0)
	if err := newTestSaver(t, path, []Entry{{"D", d2}}, 0).Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d2.Value() != 1 {
		t.Errorf("restored %v from the backup, want 1", d2.Value())
	}
	// An unreadable file is an error.
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := newTestSaver(t, path, []Entry{{"D", d2}}, 0).Restore(t.Context()); err == nil {
		t.Error("no error reading a directory")
	}
}

func TestNewErrors(t *testing.T) {
	d := ca.NewDouble(ca.Options{}, 0)
	_, err := New(Config{
		MinInterval: -1,
		PVs:         []Entry{{"A", d}, {"A", d}, {"B b", d}, {"C", nil}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"empty file path", "negative MinInterval", `duplicate name "A"`, `PVs[2]`, `"C": nil PV`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// fakeFS is the OS file system with counted writes and injected failures.
type fakeFS struct {
	osFS
	mu                           sync.Mutex
	n                            int // successful renames onto the save file
	failWrite, failSync, failRen bool
}

func (f *fakeFS) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fakeFS) CreateTemp(dir, pattern string) (tempFile, error) {
	file, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &fakeFile{File: file, failWrite: f.failWrite, failSync: f.failSync}, nil
}

func (f *fakeFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRen {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("injected failure")}
	}
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	f.n++
	return nil
}

// fakeFile writes half of the first write and then fails, as a full disk
// or a crash would.
type fakeFile struct {
	*os.File
	failWrite, failSync bool
}

func (f *fakeFile) Write(b []byte) (int, error) {
	if f.failWrite {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, errors.New("injected failure: no space left on device")
	}
	return f.File.Write(b)
}

func (f *fakeFile) Sync() error {
	if f.failSync {
		return errors.New("injected failure: sync")
	}
	return f.File.Sync()
}

func TestAtomicSave(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(*fakeFS)
	}{
		{"write fails", func(f *fakeFS) { f.failWrite = true }},
		{"sync fails", func(f *fakeFS) { f.failSync = true }},
		{"rename fails", func(f *fakeFS) { f.failRen = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.sav")
			d := ca.NewDouble(ca.Options{}, 1)
			str := ca.NewString(ca.Options{}, strings.Repeat("x", 39))
			fsys := &fakeFS{}
			s := newTestSaver(t, path, []Entry{{"D", d}, {"S", str}}, 0)
			s.fs = fsys
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fsys.mu.Lock()
			tc.inject(fsys)
			fsys.mu.Unlock()
			d.Set(2)
			if err := s.Save(); err == nil {
				t.Fatal("Save succeeded despite the failure")
			}
			now, err := os.ReadFile(path)
			if err != nil || string(now) != string(old) {
				t.Errorf("file after failed save = %q, %v; want the old file %q", now, err, old)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
			// The old file restores completely.
			d2 := ca.NewDouble(ca.Options{}, 0)
			if err := newTestSaver(t, path, []Entry{{"D", d2}}, 0).Restore(t.Context()); err != nil || d2.Value() != 1 {
				t.Errorf("restore after failed save: %v, D=%v", err, d2.Value())
			}
			// Once the failure is gone, the next save writes the change.
			fsys.mu.Lock()
			fsys.failWrite, fsys.failSync, fsys.failRen = false, false, false
			fsys.mu.Unlock()
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			if now, _ := os.ReadFile(path); !strings.Contains(string(now), "D double 2\n") {
				t.Errorf("file after recovery:\n%s", now)
			}
		})
	}
}

func TestRunRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.sav")
		d := ca.NewDouble(ca.Options{}, 0)
		l := ca.NewLong(ca.Options{}, 0)
		fsys := &fakeFS{}
		s := newTestSaver(t, path, []Entry{{"D", d}, {"L", l}}, time.Second)
		s.fs = fsys
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var runErr error
		wg.Go(func() { runErr = s.Run(ctx) })
		synctest.Wait()
		if n := fsys.writes(); n != 0 {
			t.Fatalf("%d writes before any change", n)
		}

		// A burst of changes is written once, one interval after the first.
		for i := range 100 {
			d.Set(float64(i))
			l.Set(int32(i))
		}
		synctest.Wait()
		time.Sleep(time.Second - time.Nanosecond)
		synctest.Wait()
		if n := fsys.writes(); n != 0 {
			t.Fatalf("%d writes before the interval ended", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if n := fsys.writes(); n != 1 {
			t.Fatalf("%d writes after a burst, want 1", n)
		}
		if b, _ := os.ReadFile(path); !strings.Contains(string(b), "D double 99\nL long 99\n") {
			t.Errorf("file after burst:\n%s", b)
		}

		// Changes every 100 ms for 10 s: one write per second.
		for i := range 100 {
			d.Set(float64(1000 + i))
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		if n := fsys.writes(); n < 10 || n > 11 {
			t.Errorf("%d writes for 10 s of steady changes with a 1 s interval, want 10 or 11 in all", n)
		}

		// No changes: no writes. The last steady change may still be
		// waiting for its interval to end; let that write happen first.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		before := fsys.writes()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := fsys.writes(); n != before {
			t.Errorf("%d writes while nothing changed", n-before)
		}

		// A change just before shutdown is written by the final save.
		d.Set(-1)
		cancel()
		wg.Wait()
		if runErr != nil {
			t.Fatal(runErr)
		}
		if n := fsys.writes(); n != before+1 {
			t.Errorf("%d writes at shutdown, want 1", n-before)
		}
		if b, _ := os.ReadFile(path); !strings.Contains(string(b), "D double -1\n") {
			t.Errorf("file after shutdown:\n%s", b)
		}
		// Run unsubscribed: changes now cause nothing (and nothing leaks).
		d.Set(5)
	})
}

func TestRunRetriesFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "f.sav")
		d := ca.NewDouble(ca.Options{}, 0)
		fsys := &fakeFS{failRen: true}
		s := newTestSaver(t, path, []Entry{{"D", d}}, time.Second)
		s.fs = fsys
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(ctx) })
		synctest.Wait()
		d.Set(1)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := fsys.writes(); n != 0 {
			t.Fatalf("%d writes while renames fail", n)
		}
		fsys.mu.Lock()
		fsys.failRen = false
		fsys.mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := fsys.writes(); n != 1 {
			t.Errorf("%d writes after the failure cleared, want 1 (a retry without a new change)", n)
		}
		cancel()
		wg.Wait()
	})
}
