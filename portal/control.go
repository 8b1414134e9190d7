//go:build linux

package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The control protocol: one JSON message per SOCK_SEQPACKET packet. A client
// sends a request and reads one response; an attach request carries the TUN
// descriptor (SCM_RIGHTS) and its connection then stays open for as long as
// the namespace is attached: the server detaches it when the client closes
// the connection or dies.
type request struct {
	Op   string `json:"op"` // "hello", "config" or "attach"
	Host string `json:"host,omitempty"`
}

type response struct {
	Error    string  `json:"error,omitempty"`
	Scenario string  `json:"scenario,omitempty"`
	Config   *Config `json:"config,omitempty"`
}

// maxMsg bounds a control or child message: a Config names every host of
// the world.
const maxMsg = 4 << 20

// Server accepts namespaces made by other processes on a unix socket and
// attaches them to a World. Make one with Listen.
type Server struct {
	w        World
	scenario string
	ln       *net.UnixListener

	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen serves w, a world built from the named scenario, on a unix socket
// at path (mode 0600). It refuses to replace the socket of a live server and
// removes a stale one.
func Listen(path string, w World, scenario string) (*Server, error) {
	if r, err := Dial(path); err == nil {
		return nil, fmt.Errorf("portal: %s already serves a world (scenario %s)", path, r.Scenario())
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("portal: %w", err)
	}
	s := &Server{w: w, scenario: scenario, ln: ln, conns: map[*net.UnixConn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) serve(c *net.UnixConn) {
	for {
		var req request
		fds, err := recvMsg(c, &req)
		if err != nil {
			return
		}
		switch req.Op {
		case "hello":
			closeFDs(fds)
			sendMsg(c, response{Scenario: s.scenario})
		case "config":
			closeFDs(fds)
			cfg, err := s.w.Config(req.Host)
			if err != nil {
				sendMsg(c, response{Error: err.Error()})
				continue
			}
			sendMsg(c, response{Config: cfg})
		case "attach":
			if len(fds) != 1 {
				closeFDs(fds)
				sendMsg(c, response{Error: "portal: attach without exactly one descriptor"})
				continue
			}
			closer, err := s.w.Attach(req.Host, os.NewFile(uintptr(fds[0]), "tun"))
			if err != nil {
				sendMsg(c, response{Error: err.Error()})
				continue
			}
			sendMsg(c, response{})
			// Hold the namespace until the client goes away.
			var buf [1]byte
			for {
				if _, err := c.Read(buf[:]); err != nil {
					break
				}
			}
			closer.Close()
			sendMsg(c, response{}) // detached
			return
		default:
			closeFDs(fds)
			sendMsg(c, response{Error: fmt.Sprintf("portal: unknown request %q", req.Op)})
		}
	}
}

// Close stops accepting, detaches every namespace and removes the socket.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// Remote is a world served by another process's Server.
type Remote struct {
	path     string
	scenario string
}

var _ World = (*Remote)(nil)

// Dial checks that a Server answers on the unix socket at path.
func Dial(path string) (*Remote, error) {
	var resp response
	if err := roundTrip(path, request{Op: "hello"}, &resp); err != nil {
		return nil, err
	}
	return &Remote{path: path, scenario: resp.Scenario}, nil
}

// Scenario is the name of the scenario the remote world was built from.
func (r *Remote) Scenario() string { return r.scenario }

// Config asks the server for a host's Config.
func (r *Remote) Config(host string) (*Config, error) {
	var resp response
	if err := roundTrip(r.path, request{Op: "config", Host: host}, &resp); err != nil {
		return nil, err
	}
	if resp.Config == nil {
		return nil, errors.New("portal: server sent no config")
	}
	return resp.Config, nil
}

// Attach passes tun to the server, which bridges it into the host for as
// long as the returned Closer is open (or this process lives).
func (r *Remote) Attach(host string, tun *os.File) (io.Closer, error) {
	defer tun.Close()
	c, err := dialUnix(r.path)
	if err != nil {
		return nil, err
	}
	if err := sendMsg(c, request{Op: "attach", Host: host}, int(tun.Fd())); err != nil {
		c.Close()
		return nil, fmt.Errorf("portal: %w", err)
	}
	var resp response
	if _, err := recvMsg(c, &resp); err != nil {
		c.Close()
		return nil, fmt.Errorf("portal: %w", err)
	}
	if resp.Error != "" {
		c.Close()
		return nil, errors.New(resp.Error)
	}
	return attachment{c}, nil
}

// attachment is a namespace attached through a Server.
type attachment struct{ c *net.UnixConn }

// Close asks the server to detach the namespace and waits until it has,
// so that the host is free again when Close returns.
func (a attachment) Close() error {
	a.c.CloseWrite()
	a.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp response
	recvMsg(a.c, &resp)
	return a.c.Close()
}

func dialUnix(path string) (*net.UnixConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("portal: no world served at %s: %w", path, err)
	}
	return c, nil
}

func roundTrip(path string, req request, resp *response) error {
	c, err := dialUnix(path)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := sendMsg(c, req); err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	fds, err := recvMsg(c, resp)
	closeFDs(fds)
	if err != nil {
		return fmt.Errorf("portal: %s: %w", path, err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return nil
}

// sendMsg writes v as one JSON message, with fds attached.
func sendMsg(c *net.UnixConn, v any, fds ...int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > 64<<10 {
		// A seqpacket message must fit the sender's buffer.
		if rc, err := c.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 2*len(b))
			})
		}
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// recvMsg reads one JSON message into v and returns the descriptors that
// came with it. A closed connection is io.EOF.
func recvMsg(c *net.UnixConn, v any) ([]int, error) {
	buf := make([]byte, maxMsg)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for i := range msgs {
				if f, err := unix.ParseUnixRights(&msgs[i]); err == nil {
					fds = append(fds, f...)
				}
			}
		}
	}
	if n == 0 {
		closeFDs(fds)
		return nil, io.EOF
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeFDs(fds)
		return nil, errors.New("message truncated")
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeFDs(fds)
		return nil, err
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
