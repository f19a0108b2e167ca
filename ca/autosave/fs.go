package autosave

import (
	"io"
	"os"
)

// fileSystem is the file I/O a Saver does; tests replace it to count
// writes and to fail a step of an atomic save.
type fileSystem interface {
	// CreateTemp creates a new file in dir, as os.CreateTemp does.
	CreateTemp(dir, pattern string) (tempFile, error)
	ReadFile(name string) ([]byte, error)
	Rename(oldpath, newpath string) error
	Link(oldpath, newpath string) error
	Remove(name string) error
	// SyncDir flushes the directory entry changes of dir to disk.
	SyncDir(dir string) error
}

// tempFile is the part of *os.File an atomic save uses.
type tempFile interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// osFS is the fileSystem of the operating system.
type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }
func (osFS) ReadFile(name string) ([]byte, error)             { return os.ReadFile(name) }
func (osFS) Rename(oldpath, newpath string) error             { return os.Rename(oldpath, newpath) }
func (osFS) Link(oldpath, newpath string) error               { return os.Link(oldpath, newpath) }
func (osFS) Remove(name string) error                         { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
