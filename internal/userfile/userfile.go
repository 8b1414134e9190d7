// Package userfile owns the reading of the files a user gives splinter:
// scenarios, policies, list files, block-page bodies and Citizen Lab CSVs.
// Every such file is read through it, so that all of them are held to the
// same rules:
//
//   - Only regular files are read. A named pipe, a device (/dev/zero), a
//     socket or a directory is refused at once, without waiting: the file
//     is opened non-blocking and checked with fstat before any read.
//   - A file may hold at most Limit bytes: DefaultLimit (64 MiB) unless
//     SetLimit changed it (splinter check --max-file-size). A larger file is
//     refused before it is read; one that grows past the limit while it is
//     read fails then.
//   - A file the user named on the command line is opened as named,
//     symbolic links followed (Open, ReadFile). A file that another file
//     refers to (a scenario's policy, a policy's list or block page) is
//     opened inside the referring file's folder (Dir): its path must be
//     relative and stay inside the folder (CheckRef), and no symbolic link on
//     the way may lead out of it (the checks are os.Root's, done by the
//     kernel one path element at a time, so no race can swap a link in).
//   - Errors (*Error) name the file and what is wrong with it, and never
//     quote its content.
//
// The package does not parse anything: the scenario and policy packages
// decode what it returns and report their own problems with positions.
package userfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
)

// DefaultLimit is the size limit for a file: 64 MiB, several times the
// largest real input (the full Citizen Lab global list is about 1 MiB, a
// 100,000-site scenario about 7 MiB).
const DefaultLimit int64 = 64 << 20

var limit atomic.Int64

func init() { limit.Store(DefaultLimit) }

// SetLimit sets the size limit for every file read from then on; n <= 0
// restores DefaultLimit. It is meant for a command-line flag, set once
// before anything is read.
func SetLimit(n int64) {
	if n <= 0 {
		n = DefaultLimit
	}
	limit.Store(n)
}

// Limit returns the size limit in bytes.
func Limit() int64 { return limit.Load() }

// Reasons a file is refused; an *Error wraps one of these, or an fs error
// such as fs.ErrNotExist or fs.ErrPermission.
var (
	// ErrNotRegular: a named pipe, device, socket or directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: over the size limit.
	ErrTooLarge = errors.New("larger than the size limit")
	// ErrOutside: a reference that is absolute, climbs out with "..", or
	// goes through a symbolic link that leads out of its folder.
	ErrOutside = errors.New("outside the folder of the file that refers to it")
)

// Error is a file that cannot be read. Its message is "name: what is
// wrong"; it never holds any of the file's content.
type Error struct {
	Name   string // the file, as named by the user or joined to its folder
	Err    error  // ErrNotRegular, ErrTooLarge, ErrOutside or an fs error
	Detail string // what is wrong, for people
}

func (e *Error) Error() string { return e.Name + ": " + e.Detail }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// File is an open regular file whose reads stop at the size limit. It
// implements fs.File.
type File struct {
	f      *os.File
	name   string
	remain int64 // bytes that may still be read
}

var _ fs.File = (*File)(nil)

// Open opens the file the user named: symbolic links are followed (the user
// chose the path), but it must be a regular file within the size limit.
func Open(name string) (*File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(name, err)
	}
	return checked(f, name)
}

// ReadFile reads the whole file the user named (see Open).
func ReadFile(name string) ([]byte, error) {
	f, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.readAll()
}

// checked returns f as a *File if it is a regular file within the limit,
// else closes it and returns why not.
func checked(f *os.File, name string) (*File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{Name: name, Err: err, Detail: reason(err)}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &Error{Name: name, Err: ErrNotRegular, Detail: kindOf(fi.Mode()) + ", not a regular file"}
	}
	lim := Limit()
	if fi.Size() > lim {
		f.Close()
		return nil, &Error{Name: name, Err: ErrTooLarge, Detail: fmt.Sprintf("%s, over the %s size limit for input files", size(fi.Size()), size(lim))}
	}
	return &File{f: f, name: name, remain: lim}, nil
}

// Read reads from the file; past the size limit it fails with an *Error
// wrapping ErrTooLarge.
func (f *File) Read(p []byte) (int, error) {
	if f.remain <= 0 {
		// One byte more tells a file that ends at the limit from one
		// that grew past it.
		var b [1]byte
		if n, _ := f.f.Read(b[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, &Error{Name: f.name, Err: ErrTooLarge, Detail: fmt.Sprintf("grew past the %s size limit for input files while being read", size(Limit()))}
	}
	if int64(len(p)) > f.remain {
		p = p[:f.remain]
	}
	n, err := f.f.Read(p)
	f.remain -= int64(n)
	if err != nil && err != io.EOF {
		err = &Error{Name: f.name, Err: err, Detail: reason(err)}
	}
	return n, err
}

// Stat returns the file's information.
func (f *File) Stat() (fs.FileInfo, error) { return f.f.Stat() }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Name returns the file's name as given (joined to its folder for a
// reference).
func (f *File) Name() string { return f.name }

func (f *File) readAll() ([]byte, error) {
	n := int64(512)
	if fi, err := f.f.Stat(); err == nil && fi.Size() > 0 {
		n = fi.Size() + 1
	}
	buf := make([]byte, 0, min(n, f.remain+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// CheckRef reports whether ref can name a file inside the folder of the
// file that refers to it: a non-empty relative path that does not climb out
// with "..". It returns an *Error wrapping ErrOutside otherwise. (Symbolic
// links are checked when the file is opened, by Dir.)
func CheckRef(ref string) error {
	switch {
	case ref == "":
		return &Error{Name: `""`, Err: fs.ErrInvalid, Detail: "an empty file name"}
	case filepath.IsAbs(ref):
		return &Error{Name: ref, Err: ErrOutside, Detail: "is an absolute path, where a path relative to the folder of the file that names it is needed"}
	case !filepath.IsLocal(ref):
		return &Error{Name: ref, Err: ErrOutside, Detail: "climbs out of the folder of the file that names it (\"..\")"}
	}
	return nil
}

// Dir is a folder whose files may refer to each other: a scenario's folder,
// a policy's folder. Files are opened inside it only. A Dir holds an open
// descriptor: Close it.
type Dir struct {
	root *os.Root
	name string
}

// OpenDir opens the folder at name (the folder of a file the user named).
func OpenDir(name string) (*Dir, error) {
	r, err := os.OpenRoot(name)
	if err != nil {
		return nil, openError(name, err)
	}
	return &Dir{root: r, name: name}, nil
}

// Name returns the folder's name as given.
func (d *Dir) Name() string { return d.name }

// Close closes the folder.
func (d *Dir) Close() error { return d.root.Close() }

// display joins ref to the folder's name for messages.
func (d *Dir) display(ref string) string { return filepath.Join(d.name, filepath.FromSlash(ref)) }

// Open opens the file ref (slash-separated, relative to the folder) inside
// the folder: it must pass CheckRef, every symbolic link on the way must
// stay inside the folder, and the file must be a regular file within the
// size limit.
func (d *Dir) Open(ref string) (*File, error) {
	if err := CheckRef(ref); err != nil {
		err.(*Error).Name = d.display(ref)
		return nil, err
	}
	name := d.display(ref)
	f, err := d.root.OpenFile(filepath.FromSlash(ref), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(name, err)
	}
	return checked(f, name)
}

// ReadFile reads the whole file ref inside the folder (see Open).
func (d *Dir) ReadFile(ref string) ([]byte, error) {
	f, err := d.Open(ref)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.readAll()
}

// Sub opens the folder ref inside this one (the folder of a file that ref's
// file names, such as a policy's for its lists).
func (d *Dir) Sub(ref string) (*Dir, error) {
	if ref == "." {
		r, err := d.root.OpenRoot(".")
		if err != nil {
			return nil, openError(d.name, err)
		}
		return &Dir{root: r, name: d.name}, nil
	}
	if err := CheckRef(ref); err != nil {
		err.(*Error).Name = d.display(ref)
		return nil, err
	}
	r, err := d.root.OpenRoot(filepath.FromSlash(ref))
	if err != nil {
		return nil, openError(d.display(ref), err)
	}
	return &Dir{root: r, name: d.display(ref)}, nil
}

// FS returns the folder as an fs.FS (also an fs.ReadFileFS) whose files are
// opened by Open.
func (d *Dir) FS() fs.FS { return dirFS{d} }

type dirFS struct{ d *Dir }

func (f dirFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &Error{Name: f.d.display(name), Err: ErrOutside, Detail: "not a path inside the folder"}
	}
	return f.d.Open(name)
}

func (f dirFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &Error{Name: f.d.display(name), Err: ErrOutside, Detail: "not a path inside the folder"}
	}
	return f.d.ReadFile(name)
}

// errPathEscapes is the text of os.Root's unexported error for a path that
// leads out of the root; a test pins it.
const errPathEscapes = "path escapes from parent"

// openError turns an error from opening name into an *Error.
func openError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if err.Error() == errPathEscapes {
		return &Error{Name: name, Err: ErrOutside, Detail: "leads out of the folder of the file that names it (through a symbolic link or \"..\")"}
	}
	return &Error{Name: name, Err: err, Detail: reason(err)}
}

// reason says what an OS error means, in words.
func reason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, syscall.ENOTDIR):
		return "a path element is not a folder"
	case errors.Is(err, syscall.ELOOP):
		return "too many symbolic links"
	case errors.Is(err, syscall.EISDIR):
		return "a directory, not a regular file"
	}
	return strings.TrimPrefix(err.Error(), "read ")
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// size formats n bytes for people: "64 MiB", "1.5 KiB", "12 bytes".
func size(n int64) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d %s", int64(f), units[u])
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
