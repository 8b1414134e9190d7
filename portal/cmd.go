//go:build linux

package portal

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
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

// Cmd is a program to run in a namespace standing in for a host of a World,
// in the manner of exec.Cmd. Set its fields before Start.
type Cmd struct {
	// World is where the namespace is attached.
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

	// Process is the running program, once Start has returned.
	Process *os.Process

	cmd      *exec.Cmd
	attached io.Closer
}

// Command returns a Cmd that runs name with args on host of w.
func Command(w World, host, name string, args ...string) *Cmd {
	return &Cmd{World: w, Host: host, Path: name, Args: append([]string{name}, args...)}
}

// childMsg is what the parent sends the namespace's first process.
type childMsg struct {
	Config *Config  `json:"config"`
	Path   string   `json:"path"`
	Args   []string `json:"args"`
}

// childReply is what the first process answers, twice: after setup (with
// the TUN descriptor) and, only if executing the program fails, then.
type childReply struct {
	Error string `json:"error,omitempty"`
}

// Start makes the namespace, attaches it to the World and starts the
// program. When it returns without error, the program is running.
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
	cfg, err := c.World.Config(c.Host)
	if err != nil {
		return err
	}
	args := c.Args
	if len(args) == 0 {
		args = []string{c.Path}
	}
	pc, cf, err := socketpair()
	if err != nil {
		return err
	}
	defer pc.Close()
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"splinter-portal", cfg.Host},
		Env:        append(env[:len(env):len(env)], childEnv+"=1"),
		Dir:        c.Dir,
		Stdin:      c.Stdin,
		Stdout:     c.Stdout,
		Stderr:     c.Stderr,
		ExtraFiles: []*os.File{cf},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWUTS,
			// The program dies with us (the forking thread is never
			// locked, so it lives as long as the process).
			Pdeathsig: syscall.SIGKILL,
		},
	}
	err = cmd.Start()
	cf.Close()
	if err != nil {
		return fmt.Errorf("portal: starting the namespace: %w", err)
	}
	fail := func(err error) error {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	if err := sendMsg(pc, childMsg{Config: cfg, Path: c.Path, Args: args}); err != nil {
		return fail(fmt.Errorf("portal: %w", err))
	}
	var rep childReply
	fds, err := recvMsg(pc, &rep)
	if err != nil {
		return fail(fmt.Errorf("portal: namespace setup: %w", err))
	}
	if rep.Error != "" || len(fds) != 1 {
		closeFDs(fds)
		return fail(fmt.Errorf("portal: namespace setup: %s", rep.Error))
	}
	attached, err := c.World.Attach(cfg.Host, os.NewFile(uintptr(fds[0]), "tun"))
	if err != nil {
		return fail(err)
	}
	// Go: the child closes its end when the program starts (close-on-exec),
	// or reports why it could not.
	if err := sendMsg(pc, childReply{}); err != nil {
		attached.Close()
		return fail(fmt.Errorf("portal: %w", err))
	}
	if _, err := recvMsg(pc, &rep); err == nil || !errors.Is(err, io.EOF) {
		attached.Close()
		if err == nil {
			err = errors.New(rep.Error)
		}
		return fail(err)
	}
	c.cmd, c.attached, c.Process = cmd, attached, cmd.Process
	return nil
}

// Wait waits for the program to exit, detaches the namespace, and returns
// the program's status as exec.Cmd.Wait does (*exec.ExitError).
func (c *Cmd) Wait() error {
	if c.cmd == nil {
		return errors.New("portal: not started")
	}
	err := c.cmd.Wait()
	c.attached.Close()
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
