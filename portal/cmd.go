//go:build linux

package portal

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Check reports whether this process can make namespaces: it must run as
// root and be able to open /dev/net/tun. The error is one line that says
// what is missing.
func Check() error {
	if uid := os.Geteuid(); uid != 0 {
		return fmt.Errorf("portal: needs root and /dev/net/tun: running as uid %d", uid)
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("portal: needs root and /dev/net/tun: %v", err)
	}
	f.Close()
	return nil
}

// Cmd is a program to run in the namespace of a host of a World, in the
// manner of exec.Cmd. Set its fields before Start.
type Cmd struct {
	// World is where the host is.
	World World
	// Host names the host (or a site the host serves).
	Host string
	// Path is the program, looked up in the PATH of Env when it has no
	// slash; Args holds its arguments, including Args[0].
	Path string
	Args []string
	// Env is the program's environment (nil: this process's); the
	// namespace adds the variables that point at the scenario CA and
	// SPLINTER_HOST.
	Env []string
	// Dir is the working directory ("" for this process's).
	Dir    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Process is the first process of the program's PID namespace, once
	// Start has returned: it runs the program and reaps what it leaves,
	// passes SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on to it, and exits
	// with its status. Signal it, not the program.
	Process *os.Process

	cmd   *exec.Cmd
	entry *Entry
	done  chan struct{}
	gone  atomic.Bool
}

// ErrWorldGone is what Wait returns when the world the program's host
// belongs to went away (its process stopped or was killed) while the
// program ran: the program was killed, as its network was gone.
var ErrWorldGone = errors.New("portal: the world went away while the program ran; the program was killed")

// Command returns a Cmd that runs name with args on host of w.
func Command(w World, host, name string, args ...string) *Cmd {
	return &Cmd{World: w, Host: host, Path: name, Args: append([]string{name}, args...)}
}

// childMsg is what the parent sends the PID namespace's first process.
type childMsg struct {
	Config *Config  `json:"config"`
	Path   string   `json:"path"`
	Args   []string `json:"args"`
}

// childReply is what the first process answers once the program runs, or
// could not be started.
type childReply struct {
	Error string `json:"error,omitempty"`
}

// Start enters the host's namespace, starts the program's first process in
// a PID and mount namespace of its own, and that process starts the
// program. When Start returns without error, the program is running.
func (c *Cmd) Start() error {
	if c.cmd != nil {
		return errors.New("portal: already started")
	}
	if err := Check(); err != nil {
		return err
	}
	if c.World == nil || c.Path == "" {
		return errors.New("portal: Cmd needs a World and a Path")
	}
	e, err := c.World.Enter(c.Host)
	if err != nil {
		return err
	}
	args := c.Args
	if len(args) == 0 {
		args = []string{c.Path}
	}
	pc, cf, err := socketpair()
	if err != nil {
		e.Close()
		return err
	}
	defer pc.Close()
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   []string{"splinter-portal", e.Config.Host},
		Env:    append(env[:len(env):len(env)], childEnv+"=1"),
		Dir:    c.Dir,
		Stdin:  c.Stdin,
		Stdout: c.Stdout,
		Stderr: c.Stderr,
		// fds 3, 4, 5 of the child.
		ExtraFiles: []*os.File{cf, e.net, e.uts},
		SysProcAttr: &syscall.SysProcAttr{
			// Its own mounts (the namespace's files, a /proc of its
			// PID namespace) and PID namespace: everything the
			// program starts dies with it. It joins the host's network
			// and UTS namespaces itself.
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID,
			// The program dies with us (the forking thread is never
			// locked, so it lives as long as the process).
			Pdeathsig: syscall.SIGKILL,
		},
	}
	err = cmd.Start()
	cf.Close()
	if err != nil {
		e.Close()
		return fmt.Errorf("portal: starting the namespace: %w", err)
	}
	fail := func(err error) error {
		cmd.Process.Kill()
		cmd.Wait()
		e.Close()
		return err
	}
	if err := sendMsg(pc, childMsg{Config: e.Config, Path: c.Path, Args: args}); err != nil {
		return fail(fmt.Errorf("portal: %w", err))
	}
	var rep childReply
	if _, err := recvMsg(pc, &rep); err != nil {
		return fail(fmt.Errorf("portal: namespace setup: %w", err))
	}
	if rep.Error != "" {
		return fail(errors.New(rep.Error))
	}
	c.cmd, c.entry, c.Process = cmd, e, cmd.Process
	c.done = make(chan struct{})
	go func() {
		select {
		case <-e.Gone():
			c.gone.Store(true)
			cmd.Process.Kill()
		case <-c.done:
		}
	}()
	return nil
}

// Wait waits for the program to exit, lets go of the host's namespace, and
// returns the program's status as exec.Cmd.Wait does (*exec.ExitError; a
// program killed by signal N exits 128+N), or ErrWorldGone.
func (c *Cmd) Wait() error {
	if c.cmd == nil {
		return errors.New("portal: not started")
	}
	err := c.cmd.Wait()
	close(c.done)
	c.entry.Close()
	if c.gone.Load() {
		return ErrWorldGone
	}
	return err
}

// Run starts the program and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

func socketpair() (parent *net.UnixConn, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("portal: socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), "portal-parent")
	defer pf.Close()
	c, err := net.FileConn(pf)
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("portal: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "portal-child"), nil
}
