//go:build linux

package portal

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Entry is one program's hold on the namespace of a host: the host's Config
// and the namespace's network and UTS namespace files, which a program's
// first process joins with setns(2). The namespace lives while any Entry of
// it is open. Get one from World.Enter; close it when the program is done.
type Entry struct {
	// Config describes the host the namespace stands in for.
	Config *Config

	net, uts *os.File
	// gone is closed when the world that holds the namespace goes away
	// (its process stopped or was killed) while the Entry is open.
	gone    chan struct{}
	release func()
	once    sync.Once
}

// Gone is closed when the world holding the namespace goes away while the
// Entry is open: the namespace has lost its link to the world, and a
// program in it should be stopped.
func (e *Entry) Gone() <-chan struct{} { return e.gone }

// Close gives up the Entry's hold on the namespace; the last one out
// detaches the namespace from the host, whose own stack gets its packets
// back. It is safe to call more than once.
func (e *Entry) Close() error {
	e.once.Do(func() {
		if e.release != nil {
			e.release()
		}
	})
	return nil
}

// makeNamespace makes the network and UTS namespaces standing in for the
// host cfg describes, and returns them with the TUN device to bridge into
// the host. A helper process makes them: this binary, re-executed in new
// network and UTS namespaces (see nsHelper), configures them (hostname,
// loopback, the TUN device, addresses and routes), hands back the TUN
// device and the namespaces' files, and exits; the files hold the
// namespaces. (Unsharing on a thread of this process instead could catch
// the main thread, which Go never lets go of.)
func makeNamespace(cfg *Config) (netns, utsns, tun *os.File, err error) {
	pc, cf, err := socketpair()
	if err != nil {
		return nil, nil, nil, err
	}
	defer pc.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"splinter-portal-ns", cfg.Host},
		Env:        append(os.Environ(), nsEnv+"=1"),
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{cf},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWUTS,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	err = cmd.Start()
	cf.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("portal: making the namespace: %w", err)
	}
	defer cmd.Wait()
	if err := sendMsg(pc, childMsg{Config: cfg}); err != nil {
		cmd.Process.Kill()
		return nil, nil, nil, fmt.Errorf("portal: making the namespace: %w", err)
	}
	var rep childReply
	fds, err := recvMsg(pc, &rep)
	switch {
	case err != nil:
		cmd.Process.Kill()
		return nil, nil, nil, fmt.Errorf("portal: making the namespace: %w", err)
	case rep.Error != "" || len(fds) != 3:
		closeFDs(fds)
		if rep.Error == "" {
			rep.Error = fmt.Sprintf("portal: making the namespace: %d descriptors, want 3", len(fds))
		}
		return nil, nil, nil, errors.New(rep.Error)
	}
	// Polled only now: a TUN descriptor polled before TUNSETIFF never
	// reports readiness.
	unix.SetNonblock(fds[0], true)
	return os.NewFile(uintptr(fds[1]), "netns"), os.NewFile(uintptr(fds[2]), "utsns"), os.NewFile(uintptr(fds[0]), "/dev/net/tun"), nil
}

// nsEnv marks the helper process that makes a host's namespaces.
const nsEnv = "SPLINTER_PORTAL_NS"

// nsHelper runs in the helper process, in its new network and UTS
// namespaces: it configures them for the Config it is sent and sends back
// the TUN device and the namespaces' files. It returns the exit status.
func nsHelper() int {
	f := os.NewFile(3, "portal")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return 125
	}
	c := fc.(*net.UnixConn)
	var msg childMsg
	if _, err := recvMsg(c, &msg); err != nil || msg.Config == nil {
		return 125
	}
	if err := unix.Sethostname([]byte(msg.Config.Host)); err != nil {
		sendMsg(c, childReply{Error: fmt.Sprintf("portal: hostname: %v", err)})
		return 125
	}
	tun, err := setupNet(msg.Config)
	if err != nil {
		sendMsg(c, childReply{Error: fmt.Sprintf("portal: network: %v", err)})
		return 125
	}
	var fds [3]int
	fds[0] = int(tun.Fd())
	for i, name := range []string{"/proc/self/ns/net", "/proc/self/ns/uts"} {
		if fds[i+1], err = unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			sendMsg(c, childReply{Error: fmt.Sprintf("portal: %s: %v", name, err)})
			return 125
		}
	}
	if err := sendMsg(c, childReply{}, fds[:]...); err != nil {
		return 125
	}
	return 0
}
