//go:build linux

package portal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// State is the state directory of a world that runs until interrupted
// (`splinter up`): it holds the control socket, the decision log, the
// scenario CA and the services' addresses, and `splinter exec` and
// `splinter measure` find the world there. Such a world runs
// as root, so the directory is held to the rules of a root tool's working
// directory (issue 12, D1 and D8):
//
//   - OpenState creates it (mode 0700, owned by the caller) or accepts an
//     existing one only if it is a real directory (not a symbolic link),
//     owned by the caller and closed to everyone else (no group or other
//     permission bits). Another user's directory, or a looser one, is
//     refused: whoever can write in it could plant a link where splinter
//     writes.
//   - Files in it are opened relative to the directory's descriptor and
//     without following symbolic links; new files with O_EXCL; WriteFile
//     replaces a file by renaming a new one over it.
//   - A lock file (up.lock, flock) is held for the life of the world: a
//     second world on a live state directory is refused.
//   - The decision log of an earlier world is kept: CreateLog renames
//     decisions.jsonl to the first free decisions.N.jsonl (N = 1, 2, ...; the
//     highest is the most recent) before it creates a new one.
//
// Close releases the lock. The zero State is not usable.
type State struct {
	dir  string
	fd   int      // the directory, opened O_DIRECTORY|O_NOFOLLOW
	lock *os.File // up.lock, flocked exclusively
}

// LogName is the decision log's file name in a state directory.
const LogName = "decisions.jsonl"

const lockName = "up.lock"

// OpenState creates or opens the state directory dir and locks it for one
// world. Its parent folders are created (mode 0755) when missing.
func OpenState(dir string) (*State, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("portal: state directory %s: %w", dir, err)
	}
	if err := unix.Mkdir(dir, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("portal: state directory %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("portal: state directory %s is not a directory (a symbolic link or a file); give a directory of your own", dir)
		}
		return nil, fmt.Errorf("portal: state directory %s: %w", dir, err)
	}
	s := &State{dir: dir, fd: fd}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		s.Close()
		return nil, fmt.Errorf("portal: state directory %s: %w", dir, err)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		s.Close()
		return nil, fmt.Errorf("portal: state directory %s belongs to uid %d, not to uid %d who runs splinter: refused (another user could plant links in it); remove it or give a directory of your own", dir, st.Uid, uid)
	}
	if mode := st.Mode & 0o777; mode&0o077 != 0 {
		s.Close()
		return nil, fmt.Errorf("portal: state directory %s has mode %04o: refused (others could plant links in it); chmod 700 it or give another", dir, mode)
	}
	lfd, err := unix.Openat(fd, lockName, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("portal: state directory %s: lock file: %w", dir, err)
	}
	s.lock = os.NewFile(uintptr(lfd), filepath.Join(dir, lockName))
	if err := unix.Flock(lfd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		s.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("portal: state directory %s is in use by another splinter up", dir)
		}
		return nil, fmt.Errorf("portal: state directory %s: lock: %w", dir, err)
	}
	return s, nil
}

// Dir returns the state directory's path.
func (s *State) Dir() string { return s.dir }

// Path returns the path of the file name in the state directory.
func (s *State) Path(name string) string { return filepath.Join(s.dir, name) }

// CreateLog keeps the decision log of an earlier world, renamed to the
// first free decisions.N.jsonl, and creates a new, empty decisions.jsonl
// (O_EXCL, not following links, mode 0600). It returns the new file and the
// name the old one was given ("" when there was none).
func (s *State) CreateLog() (*os.File, string, error) {
	kept := ""
	var st unix.Stat_t
	if err := unix.Fstatat(s.fd, LogName, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		for n := 1; ; n++ {
			name := "decisions." + strconv.Itoa(n) + ".jsonl"
			err := unix.Renameat2(s.fd, LogName, s.fd, name, unix.RENAME_NOREPLACE)
			if err == nil {
				kept = name
				break
			}
			if !errors.Is(err, unix.EEXIST) {
				return nil, "", fmt.Errorf("portal: keeping the old decision log %s: %w", s.Path(LogName), err)
			}
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return nil, "", fmt.Errorf("portal: decision log %s: %w", s.Path(LogName), err)
	}
	fd, err := unix.Openat(s.fd, LogName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("portal: decision log %s: %w", s.Path(LogName), err)
	}
	return os.NewFile(uintptr(fd), s.Path(LogName)), kept, nil
}

// WriteFile writes data to the file name in the state directory, replacing
// a previous one whole: it writes a new file (O_EXCL, not following links)
// and renames it over the old, so a reader sees the old file or the new,
// never a part, and a link planted at name is replaced, not followed.
func (s *State) WriteFile(name string, data []byte, perm os.FileMode) error {
	tmp := "." + name + ".new"
	unix.Unlinkat(s.fd, tmp, 0) // a leftover of a world that crashed
	fd, err := unix.Openat(s.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return fmt.Errorf("portal: %s: %w", s.Path(name), err)
	}
	f := os.NewFile(uintptr(fd), s.Path(tmp))
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(s.fd, tmp, s.fd, name)
	}
	if err != nil {
		unix.Unlinkat(s.fd, tmp, 0)
		return fmt.Errorf("portal: %s: %w", s.Path(name), err)
	}
	return nil
}

// Close releases the lock and the directory.
func (s *State) Close() error {
	if s.lock != nil {
		s.lock.Close() // closing the descriptor releases the flock
		s.lock = nil
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
	return nil
}
