package autosave

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cabridge/cabridge/ca"
	"github.com/cabridge/cabridge/ca/dbr"
)

// DefaultMinInterval is the minimum time between two writes of the file
// when Config.MinInterval is zero (the period of an EPICS autosave monitor
// set).
const DefaultMinInterval = 5 * time.Second

// Entry is one PV to save, under the name it is saved as (usually the name
// it is served under).
type Entry struct {
	Name string
	PV   ca.PV
}

// Config configures a Saver.
type Config struct {
	// Path is the save file. The directory must exist; the Saver also
	// writes Path+".bak" (the previous version) and short-lived temporary
	// files named after Path in the same directory.
	Path string
	// PVs are the PVs to save, in the order they are written. Names must be
	// unique and valid (see ValidName).
	PVs []Entry
	// MinInterval is the minimum time between two writes: after a change,
	// Run waits this long, then writes every change made meanwhile in one
	// go. Zero means DefaultMinInterval.
	MinInterval time.Duration
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Saver saves a set of PVs to a file when they change and restores them
// from it. Its methods are safe for concurrent use; Run must be called at
// most once at a time.
type Saver struct {
	path     string
	entries  []Entry
	byName   map[string]ca.PV
	interval time.Duration
	log      *slog.Logger
	fs       fileSystem

	mu   sync.Mutex // serialises saves; guards last
	last []byte     // the body of the last file written
}

// New checks cfg and returns a Saver. It does no I/O.
func New(cfg Config) (*Saver, error) {
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("autosave: empty file path"))
	}
	if cfg.MinInterval < 0 {
		errs = append(errs, fmt.Errorf("autosave: negative MinInterval %v", cfg.MinInterval))
	}
	s := &Saver{
		path:     cfg.Path,
		entries:  append([]Entry(nil), cfg.PVs...),
		byName:   make(map[string]ca.PV, len(cfg.PVs)),
		interval: cfg.MinInterval,
		log:      cfg.Logger,
		fs:       osFS{},
	}
	for i, e := range cfg.PVs {
		if err := ValidName(e.Name); err != nil {
			errs = append(errs, fmt.Errorf("autosave: PVs[%d]: %w", i, err))
			continue
		}
		if e.PV == nil {
			errs = append(errs, fmt.Errorf("autosave: PVs[%d] %q: nil PV", i, e.Name))
		}
		if _, dup := s.byName[e.Name]; dup {
			errs = append(errs, fmt.Errorf("autosave: PVs[%d]: duplicate name %q", i, e.Name))
		}
		s.byName[e.Name] = e.PV
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.interval == 0 {
		s.interval = DefaultMinInterval
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Error is a problem Restore found with one line of a save file or with
// the file as a whole.
type Error struct {
	Path string // the file read
	Line int    // 1-based line number; 0 for the file as a whole
	Name string // the PV name, if known
	Err  error
}

// Error returns "autosave: path:line: name: err".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("autosave: ")
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Name != "" {
		b.WriteString(": ")
		b.WriteString(e.Name)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Restore reads the save file and puts each saved value back into its PV
// with PV.Put (so a read-only PV cannot be restored). A missing file means
// there is nothing to restore, and is not an error; if only the backup
// (Path+".bak") exists, it is read instead. Restore carries on past bad lines and
// failed puts and returns them all joined, each an *Error naming the file
// and line. Saved names that are not configured are skipped with a
// warning in the log. Call Restore before Run, so that the first save does
// not overwrite the file with the values the PVs started with.
func (s *Saver) Restore(ctx context.Context) error {
	path := s.path
	data, err := s.fs.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		path = s.path + ".bak"
		data, err = s.fs.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			s.log.Info("autosave: no save file, nothing to restore", "path", s.path)
			return nil
		}
		if err == nil {
			s.log.Warn("autosave: save file missing, restoring from backup", "path", path)
		}
	}
	if err != nil {
		return fmt.Errorf("autosave: %w", err)
	}
	return s.restore(ctx, path, data)
}

// restore puts the values of the file content data, read from path.
func (s *Saver) restore(ctx context.Context, path string, data []byte) error {
	var errs []error
	fail := func(line int, name string, err error) {
		errs = append(errs, &Error{Path: path, Line: line, Name: name, Err: err})
	}
	restored := make(map[string]bool)
	sawEnd := false
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fail(lineNo, "", errors.New("incomplete last line (file cut short?)"))
			break
		}
		line := string(data[:i])
		data = data[i+1:]
		if strings.TrimSpace(line) == EndMarker {
			sawEnd = true
			continue
		}
		name, v, ok, err := ParseLine(line)
		switch {
		case err != nil:
			fail(lineNo, "", err)
			continue
		case !ok:
			continue
		case sawEnd:
			fail(lineNo, name, errors.New("value after "+EndMarker))
			continue
		}
		pv, found := s.byName[name]
		if !found {
			s.log.Warn("autosave: saved PV is not configured; skipped", "path", path, "line", lineNo, "name", name)
			continue
		}
		if err := pv.Put(ctx, v); err != nil {
			fail(lineNo, name, fmt.Errorf("put: %w", err))
			continue
		}
		restored[name] = true
	}
	if !sawEnd {
		fail(0, "", errors.New("no "+EndMarker+" line (file cut short?)"))
	}
	for _, e := range s.entries {
		if !restored[e.Name] {
			s.log.Debug("autosave: PV not restored", "path", path, "name", e.Name)
		}
	}
	s.log.Info("autosave: restored", "path", path, "pvs", len(restored), "errors", len(errs))
	return errors.Join(errs...)
}

// Save writes the current values of the PVs to the file now, unless they
// are the same as in the last file this Saver wrote. The write is atomic:
// the content goes to a temporary file in the same directory, which is
// synced and then renamed over the file, so that a crash leaves either the
// old or the new file, never a truncated one; the old file is kept as
// Path+".bak". PVs whose value cannot be written are left out and
// reported in the error, after the others are saved.
func (s *Saver) Save() error {
	werr, verr := s.save()
	return errors.Join(werr, verr)
}

// save is Save, with the error of the write (worth trying again) apart from
// those of PVs whose value cannot be written (not worth it).
func (s *Saver) save() (writeErr, valueErr error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body []byte
	var errs []error
	for _, e := range s.entries {
		snap := e.PV.Snapshot()
		var states []string
		if p := snap.Meta.Properties; p != nil && snap.Value.Type() == dbr.Enum {
			states = p.EnumStrings
		}
		b, err := AppendLine(body, e.Name, snap.Value, states)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		body = b
	}
	if s.last != nil && bytes.Equal(body, s.last) {
		return nil, errors.Join(errs...)
	}
	content := make([]byte, 0, len(body)+128)
	content = append(content, Header...)
	content = append(content, "\n# saved "...)
	content = time.Now().UTC().AppendFormat(content, time.RFC3339Nano)
	content = append(content, '\n')
	content = append(content, body...)
	content = append(content, EndMarker+"\n"...)
	if err := s.writeFile(content); err != nil {
		return err, errors.Join(errs...)
	}
	s.last = body
	s.log.Debug("autosave: saved", "path", s.path, "pvs", len(s.entries), "bytes", len(content))
	return nil, errors.Join(errs...)
}

// writeFile replaces the file with content atomically.
func (s *Saver) writeFile(content []byte) (err error) {
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	f, err := s.fs.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return fmt.Errorf("autosave: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			if rerr := s.fs.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				s.log.Warn("autosave: cannot remove temporary file", "path", tmp, "err", rerr)
			}
		}
	}()
	if _, err := f.Write(content); err != nil {
		_ = f.Close()
		return fmt.Errorf("autosave: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("autosave: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("autosave: close %s: %w", tmp, err)
	}
	bak := s.path + ".bak"
	if err := s.fs.Remove(bak); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("autosave: cannot remove old backup", "path", bak, "err", err)
	}
	if err := s.fs.Link(s.path, bak); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("autosave: cannot keep backup", "path", bak, "err", err)
	}
	if err := s.fs.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("autosave: %w", err)
	}
	if err := s.fs.SyncDir(dir); err != nil {
		s.log.Warn("autosave: cannot sync directory", "path", dir, "err", err)
	}
	return nil
}

// kicker is the Subscriber Run registers with each PV: it signals a change
// without blocking.
type kicker chan struct{}

// Update implements ca.Subscriber.
func (k kicker) Update(*ca.Snapshot, dbr.EventMask) {
	select {
	case k <- struct{}{}:
	default:
	}
}

// Run subscribes to the PVs and saves them after they change, at most once
// per MinInterval: the first change after a write starts the interval, and
// everything that changed during it is written at its end in one file.
// A failed write is logged and tried again one interval later. When ctx is
// done, Run unsubscribes, saves once more and returns the error of that
// final save. Run starts no goroutines.
func (s *Saver) Run(ctx context.Context) error {
	kick := make(kicker, 1)
	cancels := make([]func(), 0, len(s.entries))
	for _, e := range s.entries {
		cancels = append(cancels, e.PV.Subscribe(kick))
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	timer := time.NewTimer(s.interval)
	timer.Stop()
	defer timer.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			return s.Save()
		case <-kick:
			if !armed {
				timer.Reset(s.interval)
				armed = true
			}
		case <-timer.C:
			armed = false
			werr, verr := s.save()
			if verr != nil {
				s.log.Error("autosave: some PVs not saved", "path", s.path, "err", verr)
			}
			if werr != nil {
				s.log.Error("autosave: save failed; retrying", "path", s.path, "in", s.interval, "err", werr)
				timer.Reset(s.interval)
				armed = true
			}
		}
	}
}
