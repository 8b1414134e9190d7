package evade

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/strategy"
	"github.com/splinter-lab/splinter/website"
	"github.com/splinter-lab/splinter/world"
)

// Defaults of Options.
const (
	DefaultTrials      = 100
	DefaultConcurrency = 32
	DefaultTimeout     = 5 * time.Second
	// DefaultPorts is the size of the server port pool: the larger, the
	// rarer the pauses in which the trials in flight drain so that the
	// clock can jump.
	DefaultPorts = 1024
)

// The ports a session uses: wire ports of the client from Linux's
// ephemeral range (net.ipv4.ip_local_port_range), extra server ports from
// firstExtraPort up.
const (
	wireLo         = 32768
	wireHi         = 60999
	firstExtraPort = 10000
)

// Options configure a session. The zero value is usable; trials then need
// an Attempt.From.
type Options struct {
	// From is the host trials start at (a client of the scenario) when an
	// Attempt names none.
	From string
	// Seed makes the borders' and the strategies' random choices
	// reproducible; 0 draws one.
	Seed uint64
	// Concurrency is how many trials run at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Ports is how many server ports a URL's trials rotate over when no
	// censor on the path looks at ports; 0 means DefaultPorts.
	Ports int
	// Timeout bounds one trial (real time); 0 means DefaultTimeout.
	Timeout time.Duration
	// At is the world's date at the start; zero means the scenario's
	// (its at:), else now.
	At time.Time
	// Decisions, if not nil, receives every border decision as a JSON line.
	Decisions io.Writer
	// Generators is the version of Geneva's value generators the
	// strategies' corrupt tampers draw from (strategy.Options.Generators):
	// to replay an experiment with the Geneva it ran.
	Generators strategy.Generators

	// Strategy and ServerStrategy (nil: none) and Trials (0:
	// DefaultTrials) are what Run tries on each URL; Session.Run takes
	// them from each Attempt instead.
	Strategy, ServerStrategy *strategy.Strategy
	Trials                   int
}

// Session is a private world in which trials run. Its methods are safe for
// concurrent use.
type Session struct {
	opts   Options
	spec   *lab.Spec
	lab    *lab.Lab
	clk    *clock.Offset
	ledger *ledger
	cancel context.CancelFunc
	ctx    context.Context

	mu       sync.Mutex
	cond     *sync.Cond
	clients  map[string]*client
	pools    map[string]*pool   // by web host, scheme and port
	targets  map[string]*target // by client and pool
	sshims   map[string]*serverShim
	inflight int
	dirty    map[netip.AddrPort]bool // server ports whose trial set off a block
	busy     map[netip.AddrPort]bool // server ports a trial is using
	used     map[pair]bool           // 4-tuples used so far
	nextWire uint32
	jumps    int
	skipped  time.Duration
	trialN   uint64
	closed   bool
}

// Start starts a private world from spec for trials from opts.From. A host
// that does not exist or is not in the world is an *lab.InputError.
func Start(ctx context.Context, spec *lab.Spec, opts Options) (*Session, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Ports <= 0 {
		opts.Ports = DefaultPorts
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.From != "" {
		if err := Check(spec, opts.From, nil); err != nil {
			return nil, err
		}
	}
	at := opts.At
	if at.IsZero() {
		at = spec.Scenario.At
	}
	if at.IsZero() {
		at = time.Now()
	}
	s := &Session{
		opts: opts, spec: spec, clk: clock.NewOffset(at), ledger: newLedger(opts.Decisions),
		clients: map[string]*client{}, pools: map[string]*pool{}, targets: map[string]*target{}, sshims: map[string]*serverShim{},
		dirty: map[netip.AddrPort]bool{}, busy: map[netip.AddrPort]bool{}, used: map[pair]bool{},
	}
	s.cond = sync.NewCond(&s.mu)
	// Links keep real time: a jump happens only when no trial is in
	// flight, and packets in flight should not arrive early.
	l, err := spec.Start(ctx, lab.Options{Clock: s.clk, LinkClock: clock.System, Seed: opts.Seed, Decisions: s.ledger})
	if err != nil {
		return nil, fmt.Errorf("evade: %w", err)
	}
	s.lab = l
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// client is a host trials start at, with its shim.
type client struct {
	host *world.Host
	shim *clientShim
}

// clientOf returns the client host name, setting its shim up the first
// time. Held: s.mu.
func (s *Session) clientOf(name string) (*client, error) {
	if c := s.clients[name]; c != nil {
		return c, nil
	}
	if err := Check(s.spec, name, nil); err != nil {
		return nil, err
	}
	h := s.lab.World().Host(name)
	c := &client{host: h, shim: newClientShim()}
	h.Shim(c.shim.out, c.shim.in)
	s.clients[name] = c
	return c, nil
}

// Lab is the running lab (its world, decision log and engines).
func (s *Session) Lab() *lab.Lab { return s.lab }

// Close stops the world.
func (s *Session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	s.cancel()
	return s.lab.Close()
}

// Check reports bad input before a world starts: no host from in spec,
// or a URL that is not http(s) or names no site of spec. Errors are
// *lab.InputError.
func Check(spec *lab.Spec, from string, urls []string) error {
	if from == "" {
		return &lab.InputError{Err: errors.New("evade: no host to run trials from")}
	}
	if !slices.ContainsFunc(spec.Plan.Hosts, func(h *scenario.PlannedHost) bool { return h.Name == from }) {
		return &lab.InputError{Err: fmt.Errorf("evade: no host %q in scenario %s (see 'splinter scenarios --hosts')", from, spec.Scenario.Name)}
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return &lab.InputError{Err: fmt.Errorf("evade: %q is not an http or https URL", raw)}
		}
		if _, _, err := siteOf(spec, u); err != nil {
			return err
		}
	}
	return nil
}

// siteOf finds the site u names in spec, and the port u uses.
func siteOf(spec *lab.Spec, u *url.URL) (*scenario.PlannedSite, uint16, error) {
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, 0, &lab.InputError{Err: fmt.Errorf("evade: %q is not an http or https URL", u)}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	var site *scenario.PlannedSite
	for _, ps := range spec.Plan.Sites {
		if strings.EqualFold(ps.Domain, host) {
			site = ps
		}
	}
	if site == nil {
		return nil, 0, &lab.InputError{Err: fmt.Errorf("evade: %s: %q is not a site of scenario %s", u, host, spec.Scenario.Name)}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, 0, &lab.InputError{Err: fmt.Errorf("evade: %s: bad port %q", u, port)}
	}
	return site, uint16(p), nil
}

// pool is a web host's ports serving one site over one scheme: the URL's
// port, then the session's extra ports.
type pool struct {
	host  *world.Host
	ports []uint16
	shim  *serverShim
}

// target is what the trials of one URL from one client need: where the
// site is served, the server ports to rotate over, the borders' longest
// block.
type target struct {
	site     *scenario.PlannedSite
	client   *client
	pool     *pool
	addr     netip.Addr // the server address trials dial
	from     netip.Addr // the client address of that family
	ports    []uint16
	next     int
	tls      *tls.Config
	window   time.Duration // the longest block the path's borders set
	portWise bool          // a censor on the path looks at ports
	// ownTuple: every block the path's borders set is keyed by the whole
	// 4-tuple (Kazakhstan's residual block), so a trial's block covers no
	// other trial, each having a fresh client port: trials share server
	// ports and no port is set aside.
	ownTuple bool
}

// target resolves u, tried from the named client host, into its target,
// starting the extra listeners of its site's host the first time.
func (s *Session) target(from string, u *url.URL) (*request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	site, port, err := siteOf(s.spec, u)
	if err != nil {
		return nil, err
	}
	c, err := s.clientOf(from)
	if err != nil {
		return nil, err
	}
	pk := site.Host + " " + u.Scheme + " " + strconv.Itoa(int(port))
	p := s.pools[pk]
	if p == nil {
		if p, err = s.newPool(u.Scheme, site, port); err != nil {
			return nil, err
		}
		s.pools[pk] = p
	}
	t := s.targets[from+" "+pk]
	if t == nil {
		if t, err = s.newTarget(c, p, u.Scheme, site); err != nil {
			return nil, err
		}
		s.targets[from+" "+pk] = t
	}
	// The request's own target (path, query, Host) sets the expected page.
	r := &request{target: t, url: u}
	r.status, r.body = expected(site, u)
	return r, nil
}

// request is a URL with its target and the answer a success must bring.
type request struct {
	*target
	url    *url.URL
	status int
	body   []byte
}

func (s *Session) newTarget(c *client, p *pool, scheme string, site *scenario.PlannedSite) (*target, error) {
	t := &target{site: site, client: c, pool: p}
	for _, fam := range []int{4, 6} {
		if a, f := p.host.Addr(fam), c.host.Addr(fam); a.IsValid() && f.IsValid() {
			t.addr, t.from = a, f
			break
		}
	}
	if !t.addr.IsValid() {
		return nil, &lab.InputError{Err: fmt.Errorf("evade: %s and %s share no address family", c.host.Name(), site.Host)}
	}
	t.ownTuple = true
	for _, b := range s.pathBorders(c.host, p.host) {
		t.portWise = t.portWise || portWise(b.Policy)
		w, own := blockWindow(b.Policy)
		t.window = max(t.window, w)
		t.ownTuple = t.ownTuple && own
	}
	if t.window > 0 {
		t.window += time.Second
	}
	t.ports = p.ports
	if t.portWise {
		t.ports = p.ports[:1]
	}
	if scheme == "https" {
		t.tls = &tls.Config{ServerName: site.Domain, RootCAs: s.lab.World().CA().Pool(), NextProtos: []string{"http/1.1"}}
	}
	return t, nil
}

func (s *Session) newPool(scheme string, site *scenario.PlannedSite, port uint16) (*pool, error) {
	h := s.lab.World().Host(site.Host)
	if h == nil {
		return nil, fmt.Errorf("evade: the web host %s of %s is not in the world", site.Host, site.Domain)
	}
	p := &pool{host: h, ports: []uint16{port}}
	// The world serves the site on 80 and 443; the session serves it on
	// its extra ports (and on the URL's port if that is another).
	ws := website.Site{Domain: site.Domain, Title: site.Title, Body: site.Page(), Category: site.Category}
	srv, err := website.New([]website.Site{ws}, s.lab.World().CA().GetCertificate)
	if err != nil {
		return nil, fmt.Errorf("evade: %w", err)
	}
	var lns []net.Listener
	if std := scheme == "http" && port == 80 || scheme == "https" && port == 443; !std {
		ln, err := h.Listen("tcp", ":"+strconv.Itoa(int(port)))
		if err != nil {
			return nil, fmt.Errorf("evade: serving %s on port %d: %w", site.Domain, port, err)
		}
		lns = append(lns, ln)
	}
	for pt := uint32(firstExtraPort); len(p.ports) < s.opts.Ports && pt < wireLo; pt++ {
		if pt == uint32(port) {
			continue
		}
		ln, err := h.Listen("tcp", ":"+strconv.Itoa(int(pt)))
		if err != nil {
			continue // in use
		}
		lns = append(lns, ln)
		p.ports = append(p.ports, uint16(pt))
	}
	if len(lns) > 0 {
		fan := newFanIn(lns)
		var httpLn, httpsLn net.Listener = fan, nil
		if scheme == "https" {
			httpLn, httpsLn = nil, fan
		}
		go func() { _ = srv.Serve(s.ctx, httpLn, httpsLn, nil) }()
	}
	// One shim per web host, for server-side strategies.
	p.shim = s.sshims[site.Host]
	if p.shim == nil {
		p.shim = newServerShim()
		s.sshims[site.Host] = p.shim
		h.Shim(p.shim.out, p.shim.in)
	}
	return p, nil
}

// expected is the status and body the site serves for u: what a success
// must bring back.
func expected(site *scenario.PlannedSite, u *url.URL) (int, []byte) {
	srv, err := website.New([]website.Site{{Domain: site.Domain, Title: site.Title, Body: site.Page(), Category: site.Category}}, nil)
	if err != nil {
		return 0, nil
	}
	r := httptest.NewRequest(http.MethodGet, u.String(), nil)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, r)
	return rec.Code, rec.Body.Bytes()
}

// pathBorders are the borders a connection between c and h crosses: their
// network borders, and their jurisdictions' borders when the two are in
// different jurisdictions.
func (s *Session) pathBorders(c, h *world.Host) []lab.Border {
	var out []lab.Border
	for _, b := range s.spec.Borders {
		for _, end := range []*world.Host{c, h} {
			if b.Jurisdiction != end.Jurisdiction() {
				continue
			}
			if b.Network == end.Network() || b.Network == "" && c.Jurisdiction() != h.Jurisdiction() {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

// portWise reports whether a TCP rule of p depends on the server port.
func portWise(p *policy.Policy) bool {
	for _, r := range p.Rules {
		if len(r.Scope.Protocols) > 0 && !slices.Contains(r.Scope.Protocols, policy.Protocol("tcp")) {
			continue
		}
		if len(r.Scope.Ports) > 0 {
			return true
		}
		for _, m := range r.Match {
			if m.Kind() == "port" {
				return true
			}
		}
	}
	return false
}

// blockWindow is the longest a block of p lasts from its trigger, and
// whether every block of p is keyed by the whole 4-tuple (the client port
// included), so that it covers only the connection that set it off.
func blockWindow(p *policy.Policy) (w time.Duration, ownTuple bool) {
	ownTuple = true
	for _, r := range p.Rules {
		for _, a := range r.Actions {
			switch a := a.(type) {
			case *border.ResidualAction:
				w = max(w, a.Duration+a.StartDelay.Max)
				ownTuple = ownTuple && a.Tuple == 4
			case *border.NullRouteAction:
				w = max(w, a.Duration)
				ownTuple = false
			}
		}
	}
	return w, ownTuple
}

// acquire takes a clean server port of t, waiting for one, and jumps the
// clock when every port is dirty and no trial is in flight. When blocks
// cover only their own connection (t.ownTuple), any port will do.
func (s *Session) acquire(ctx context.Context, t *target) (netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return netip.AddrPort{}, errors.New("evade: session closed")
		}
		if err := ctx.Err(); err != nil {
			return netip.AddrPort{}, err
		}
		if t.ownTuple {
			ap := netip.AddrPortFrom(t.addr, t.ports[t.next%len(t.ports)])
			t.next++
			s.inflight++
			return ap, nil
		}
		clean := false
		for range t.ports {
			ap := netip.AddrPortFrom(t.addr, t.ports[t.next%len(t.ports)])
			t.next++
			if s.dirty[ap] {
				continue
			}
			clean = true
			if !s.busy[ap] {
				s.busy[ap] = true
				s.inflight++
				return ap, nil
			}
		}
		if !clean && s.inflight == 0 {
			s.jump(t.window)
			continue
		}
		s.cond.Wait()
	}
}

// jump moves the world's clock past every block set so far. Held: s.mu.
func (s *Session) jump(window time.Duration) {
	if window <= 0 {
		window = time.Hour
	}
	s.clk.Jump(window)
	s.jumps++
	s.skipped += window
	clear(s.dirty)
}

func (s *Session) release(t *target, ap netip.AddrPort, dirty bool) {
	s.mu.Lock()
	if !t.ownTuple {
		delete(s.busy, ap)
	}
	dirty = dirty && !t.ownTuple
	if dirty {
		s.dirty[ap] = true
	}
	s.inflight--
	s.mu.Unlock()
	s.cond.Broadcast()
}

// wirePort allocates the client's port on the wire for a trial to server:
// one that no earlier trial used with that server port.
func (s *Session) wirePort(server netip.AddrPort, client netip.Addr) netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range wireHi - wireLo + 1 {
		p := uint16(wireLo + s.nextWire%(wireHi-wireLo+1))
		s.nextWire++
		ap := netip.AddrPortFrom(client, p)
		if !s.used[pairOf(ap, server)] {
			s.used[pairOf(ap, server)] = true
			return ap
		}
	}
	// Every port was used with this server port: reuse, oldest first.
	return netip.AddrPortFrom(client, uint16(wireLo+s.nextWire%(wireHi-wireLo+1)))
}

// fanIn accepts from several listeners as one.
type fanIn struct {
	lns  []net.Listener
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newFanIn(lns []net.Listener) *fanIn {
	f := &fanIn{lns: lns, ch: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case f.ch <- c:
				case <-f.done:
					c.Close()
					return
				}
			}
		}()
	}
	return f
}

func (f *fanIn) Accept() (net.Conn, error) {
	select {
	case c := <-f.ch:
		return c, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}

func (f *fanIn) Close() error {
	f.once.Do(func() {
		close(f.done)
		for _, ln := range f.lns {
			ln.Close()
		}
	})
	return nil
}

func (f *fanIn) Addr() net.Addr { return f.lns[0].Addr() }
