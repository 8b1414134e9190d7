//go:build linux

package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The control protocol: one JSON message per SOCK_SEQPACKET packet. A client
// sends a request and reads one response. An enter response carries the
// namespace's files (SCM_RIGHTS: the network namespace, then the UTS
// namespace), and its connection then stays open for as long as the client
// holds the namespace: the server lets go of it when the client closes its
// end (or dies), and says so with a last message; a client that reads the
// end of the connection without that message knows the world went away.
type request struct {
	Op   string `json:"op"` // "hello", "enter" or "measure"
	Host string `json:"host,omitempty"`
	URL  string `json:"url,omitempty"`
}

type response struct {
	Error string `json:"error,omitempty"`
	// BadInput marks an Error caused by the request (an unknown host, a
	// URL that is not one).
	BadInput bool    `json:"bad_input,omitempty"`
	Scenario string  `json:"scenario,omitempty"`
	Config   *Config `json:"config,omitempty"`
	// Measurement is a measurement's OONI JSON.
	Measurement json.RawMessage `json:"measurement,omitempty"`
	// Released ends an enter connection: the server let go of the
	// namespace because the client asked.
	Released bool `json:"released,omitempty"`
}

// maxMsg bounds a control or child message: a Config names every host of
// the world.
const maxMsg = 4 << 20

// ServerConfig says what a Server serves besides its World.
type ServerConfig struct {
	// Scenario is the name of the scenario the world was built from.
	Scenario string
	// Measure, if set, measures url from host of the world and returns the
	// measurement's JSON: what `splinter measure --state` asks for. A
	// *RequestError with BadInput set says the request was at fault.
	Measure func(ctx context.Context, host, url string) ([]byte, error)
}

// Server accepts programs of other processes on a unix socket and lets
// them enter the hosts of a World. Make one with Listen.
type Server struct {
	w      World
	cfg    ServerConfig
	ln     *net.UnixListener
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen serves w on a unix socket at path (mode 0600). It refuses to
// replace the socket of a live server and removes a stale one.
func Listen(path string, w World, cfg ServerConfig) (*Server, error) {
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
	s := &Server{w: w, cfg: cfg, ln: ln, conns: map[*net.UnixConn]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
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
		closeFDs(fds)
		if err != nil {
			return
		}
		switch req.Op {
		case "hello":
			sendMsg(c, response{Scenario: s.cfg.Scenario})
		case "enter":
			e, err := s.w.Enter(req.Host)
			if err != nil {
				var re *RequestError
				sendMsg(c, response{Error: err.Error(), BadInput: errors.As(err, &re) && re.BadInput})
				continue
			}
			if err := sendMsg(c, response{Config: e.Config}, int(e.net.Fd()), int(e.uts.Fd())); err != nil {
				e.Close()
				return
			}
			// Hold the namespace until the client lets go or goes away,
			// or until the world goes.
			read := make(chan struct{})
			go func() {
				var buf [1]byte
				for {
					if _, err := c.Read(buf[:]); err != nil {
						break
					}
				}
				close(read)
			}()
			select {
			case <-read:
				e.Close()
				sendMsg(c, response{Released: true})
			case <-e.Gone():
				e.Close()
			case <-s.ctx.Done():
				e.Close()
			}
			return
		case "measure":
			s.measure(c, req)
			return
		default:
			sendMsg(c, response{Error: fmt.Sprintf("portal: unknown request %q", req.Op), BadInput: true})
		}
	}
}

// measure answers a measure request; the measurement stops when the client
// goes away or the server closes.
func (s *Server) measure(c *net.UnixConn, req request) {
	if s.cfg.Measure == nil {
		sendMsg(c, response{Error: "portal: this world does not measure"})
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	// The client sends nothing more: a read ends when it goes away (or
	// when serve returns and the connection is closed).
	go func() {
		var buf [1]byte
		if _, err := c.Read(buf[:]); err != nil {
			cancel()
		}
	}()
	m, err := s.cfg.Measure(ctx, req.Host, req.URL)
	if err != nil {
		var re *RequestError
		sendMsg(c, response{Error: err.Error(), BadInput: errors.As(err, &re) && re.BadInput})
		return
	}
	sendMsg(c, response{Measurement: m})
}

// Close stops accepting, lets go of every namespace and removes the socket.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
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
	if err := roundTrip(context.Background(), path, request{Op: "hello"}, &resp); err != nil {
		return nil, err
	}
	return &Remote{path: path, scenario: resp.Scenario}, nil
}

// Scenario is the name of the scenario the remote world was built from.
func (r *Remote) Scenario() string { return r.scenario }

// Enter asks the server for the host's namespace. The Entry's Gone is
// closed if the server goes away while it is open.
func (r *Remote) Enter(host string) (*Entry, error) {
	c, err := dialUnix(r.path)
	if err != nil {
		return nil, err
	}
	if err := sendMsg(c, request{Op: "enter", Host: host}); err != nil {
		c.Close()
		return nil, fmt.Errorf("portal: %w", err)
	}
	var resp response
	fds, err := recvMsg(c, &resp)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("portal: %s: %w", r.path, err)
	}
	if resp.Error != "" || resp.Config == nil || len(fds) != 2 {
		closeFDs(fds)
		c.Close()
		if resp.Error == "" {
			resp.Error = "portal: the server sent no namespace"
		}
		return nil, &RequestError{Msg: resp.Error, BadInput: resp.BadInput}
	}
	e := &Entry{Config: resp.Config, net: os.NewFile(uintptr(fds[0]), "netns"), uts: os.NewFile(uintptr(fds[1]), "utsns"), gone: make(chan struct{})}
	var closing atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var resp response
		_, err := recvMsg(c, &resp)
		if (err != nil || !resp.Released) && !closing.Load() {
			close(e.gone)
		}
	}()
	e.release = func() {
		closing.Store(true)
		// Ask the server to let go, and wait until it has, so that the
		// host is free again when Close returns.
		c.CloseWrite()
		select {
		case <-watched:
		case <-time.After(5 * time.Second):
		}
		c.Close()
		e.net.Close()
		e.uts.Close()
	}
	return e, nil
}

// Measure asks the server to measure url from host, and returns the
// measurement's OONI JSON.
func (r *Remote) Measure(ctx context.Context, host, url string) ([]byte, error) {
	var resp response
	if err := roundTrip(ctx, r.path, request{Op: "measure", Host: host, URL: url}, &resp); err != nil {
		return nil, err
	}
	if len(resp.Measurement) == 0 {
		return nil, errors.New("portal: the server sent no measurement")
	}
	return resp.Measurement, nil
}

// RequestError is a refusal of a request to a World or Server.
type RequestError struct {
	Msg string
	// BadInput says the request was at fault (an unknown host).
	BadInput bool
}

func (e *RequestError) Error() string { return e.Msg }

func dialUnix(path string) (*net.UnixConn, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("portal: no world served at %s: %w", path, err)
	}
	return c, nil
}

func roundTrip(ctx context.Context, path string, req request, resp *response) error {
	c, err := dialUnix(path)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := sendMsg(c, req); err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	fds, err := recvMsg(c, resp)
	closeFDs(fds)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("portal: %s: %w", path, ctx.Err())
		}
		return fmt.Errorf("portal: %s: %w", path, err)
	}
	if resp.Error != "" {
		return &RequestError{Msg: resp.Error, BadInput: resp.BadInput}
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
