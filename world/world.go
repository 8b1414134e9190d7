// Package world is splinter's emulated Internet: hosts with their own
// userspace TCP/IP stacks, routers that forward by longest-prefix match,
// links with optional delay, jitter, loss and bandwidth limits, and the
// borders where a Gateway sees every packet that enters or leaves a
// jurisdiction or network. It builds a world from a scenario's Plan and runs
// its services (DNS hierarchy, web sites, the scenario CA).
//
// It does not decide what a border does with a packet: it defines Gateway
// and installs the gateways it is given (package lab builds them from
// package border's engines). It knows nothing of policies, censors or
// measurements.
//
// Topology: each host hangs off its network's router; each network router's
// uplink goes to its jurisdiction's border router; each jurisdiction router's
// uplink goes to the backbone router. Domestic traffic turns at the
// jurisdiction router and never crosses its border. Any link may hide routers
// (scenario.Link.Hops) that lower the TTL and answer TTL expiry from their own
// addresses, so paths have realistic lengths at no cost per hop.
package world

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/scenario"
)

// Options tune how a world is built. The zero value is usable.
type Options struct {
	// Clock drives delayed packets, captures, the resolvers' caches and
	// the link models; nil is the system clock. Give the gateways and
	// services the same clock.
	Clock clock.Clock
	// LinkClock, if set, drives the link models (propagation, jitter,
	// serialisation) instead of Clock: a test that steps the censors'
	// timers with a manual Clock keeps packets moving in real time.
	LinkClock clock.Clock
	// Gateway returns the gateway of each border whose Policy is set
	// (returning a nil Gateway leaves the border open). If nil, every border
	// is open.
	Gateway func(b BorderSpec) (Gateway, error)
	// Seed makes link loss and jitter reproducible.
	Seed uint64
	// MTU of every host interface; 0 means 1500.
	MTU uint32
	// NoServices builds the fabric only: no DNS servers, web sites or CA.
	NoServices bool
}

// BorderSpec describes one border for Options.Gateway.
type BorderSpec struct {
	// Jurisdiction is the code of the jurisdiction the border belongs to.
	Jurisdiction string
	// Network is set for a network's own border ("" for a jurisdiction's).
	Network string
	// Policy is the border's policy reference from the scenario.
	Policy string
	// Router is the router the border sits on.
	Router *Router
}

// Name names the border: the jurisdiction's code ("CN"), or "CODE/network"
// for a network's own border ("CN/cn-henan-unicom").
func (b BorderSpec) Name() string {
	if b.Network != "" {
		return b.Jurisdiction + "/" + b.Network
	}
	return b.Jurisdiction
}

// World is a running emulated Internet. Its methods are safe for concurrent
// use.
type World struct {
	plan *scenario.Plan
	opts Options
	clk  clock.Clock
	// kernel is the Linux the hosts' TCP follows: that of the world's
	// date when it was built (netstack.KernelAt); hosts do not upgrade
	// when the clock jumps.
	kernel   netstack.Kernel
	hosts    map[string]*Host
	order    []*Host
	routers  map[string]*Router
	links    map[string]*Link
	backbone *Router
	borders  []BorderSpec

	svc services

	closeOnce sync.Once
	stats     struct{ malformed atomic.Uint64 }
}

// Plan returns the plan the world was built from.
func (w *World) Plan() *scenario.Plan { return w.plan }

// Host returns the host with the given name, or nil when the world has
// none: use LookupHost where the name comes from a user or a file, so that
// a typo is an error where it is made. A nil *Host's Dial, DialAddr,
// Listen, ListenPacket, Resolve, HTTPClient and HTTP3Client fail with
// ErrNoHost rather than panic; its other methods panic.
func (w *World) Host(name string) *Host { return w.hosts[name] }

// LookupHost returns the host with the given name, or an error wrapping
// ErrNoHost saying there is none.
func (w *World) LookupHost(name string) (*Host, error) {
	if h := w.hosts[name]; h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("%w %q in scenario %s", ErrNoHost, name, w.plan.Scenario.Name)
}

// ErrNoHost is the error of a host name the world does not have (from
// LookupHost), and of the network methods of the nil *Host that Host
// returns for one.
var ErrNoHost = errors.New("world: no host")

// Clock is the world's clock.
func (w *World) Clock() clock.Clock { return w.clk }

// Hosts returns every host in plan order.
func (w *World) Hosts() []*Host { return w.order }

// Router returns a router by name: a jurisdiction code ("CN") for a border
// router, a network name for a network router, "backbone" for the transit
// router.
func (w *World) Router(name string) *Router { return w.routers[name] }

// Borders lists the borders that have a policy.
func (w *World) Borders() []BorderSpec { return w.borders }

// Links lists the names of the world's links, sorted.
func (w *World) Links() []string {
	names := make([]string, 0, len(w.links))
	for n := range w.links {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Isolate cuts jurisdiction code off from the rest of the world (on=true), as
// in a national isolation drill, or reconnects it. Inside, everything keeps
// working.
func (w *World) Isolate(code string, on bool) error {
	r := w.routers[code]
	if r == nil || !r.jurisdiction {
		return fmt.Errorf("world: no jurisdiction %q", code)
	}
	r.isolated.Store(on)
	return nil
}

// Capture starts writing every packet that crosses the named link, both
// ways, to wr in pcap format (readable by Wireshark and tcpdump). Stop it
// with Close.
func (w *World) Capture(link string, wr io.Writer) (*Capture, error) {
	l := w.links[link]
	if l == nil {
		return nil, fmt.Errorf("world: no link %q", link)
	}
	c, err := newCapture(wr, w.clk)
	if err != nil {
		return nil, err
	}
	c.link = l
	for {
		old := l.taps.Load()
		var list []*Capture
		if old != nil {
			list = append(list, *old...)
		}
		list = append(list, c)
		if l.taps.CompareAndSwap(old, &list) {
			return c, nil
		}
	}
}

// Build builds a world from a plan and starts it: stacks, routers, links,
// gateways and (unless opts.NoServices) services. Close stops it.
func Build(plan *scenario.Plan, opts Options) (*World, error) {
	w := &World{
		plan:    plan,
		opts:    opts,
		clk:     opts.Clock,
		hosts:   make(map[string]*Host, len(plan.Hosts)),
		routers: make(map[string]*Router),
		links:   make(map[string]*Link),
	}
	w.clk = clock.Or(opts.Clock)
	w.kernel = netstack.KernelAt(w.clk.Now())
	if err := w.build(); err != nil {
		w.Close()
		return nil, err
	}
	if !opts.NoServices {
		if err := w.startServices(); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// Start plans sc and builds a world from it.
func Start(sc *scenario.Scenario, opts Options) (*World, error) {
	plan, err := sc.Plan()
	if err != nil {
		return nil, err
	}
	return Build(plan, opts)
}

func (w *World) newRouter(name string, addrs ...netip.Addr) *Router {
	r := &Router{name: name, w: w}
	r.inject = r.originate
	for _, a := range addrs {
		if a.IsValid() {
			r.addrs = append(r.addrs, a)
		}
	}
	w.routers[name] = r
	return r
}

func (w *World) link(name string, lower, upper node, cfg scenario.Link, lowerIsRouter bool) (*Link, error) {
	if _, dup := w.links[name]; dup {
		return nil, fmt.Errorf("world: duplicate link name %q", name)
	}
	seed := w.opts.Seed ^ uint64(len(w.links))*0x9e3779b97f4a7c15
	clk := w.clk
	if w.opts.LinkClock != nil {
		clk = w.opts.LinkClock
	}
	l := newLink(name, lower, upper, cfg, lowerIsRouter, clk, seed)
	w.links[name] = l
	return l, nil
}

func (w *World) build() error {
	p := w.plan
	w.backbone = w.newRouter("backbone", p.Backbone.V4, p.Backbone.V6)
	jr := make(map[string]*Router)
	jl := make(map[string]*Link)
	for _, j := range p.Jurisdictions {
		r := w.newRouter(j.Code, j.Router.V4, j.Router.V6)
		r.jurisdiction = true
		jr[j.Code] = r
		up := j.Border.Link
		up.Delay += p.Scenario.Backbone.Delay / 2
		l, err := w.link(j.Code, r, w.backbone, up, true)
		if err != nil {
			return err
		}
		r.uplink = l.ends[0]
		jl[j.Code] = l
		for _, pfx := range j.Prefixes {
			w.backbone.table.Insert(pfx, l.ends[1])
		}
		if j.Border.Policy != "" {
			w.borders = append(w.borders, BorderSpec{Jurisdiction: j.Code, Policy: j.Border.Policy, Router: r})
		}
	}
	nr := make(map[string]*Router)
	for _, n := range p.Networks {
		j := jr[n.Jurisdiction]
		if j == nil {
			return fmt.Errorf("world: network %q: no jurisdiction %q", n.Name, n.Jurisdiction)
		}
		if _, dup := w.routers[n.Name]; dup {
			return fmt.Errorf("world: network %q has the name of another router", n.Name)
		}
		r := w.newRouter(n.Name, n.Router.V4, n.Router.V6)
		nr[n.Name] = r
		l, err := w.link(n.Name, r, j, n.Border.Link, true)
		if err != nil {
			return err
		}
		r.uplink = l.ends[0]
		for _, pfx := range n.Prefixes {
			j.table.Insert(pfx, l.ends[1])
			if _, ok := w.backbone.table.Lookup(pfx.Addr()); !ok {
				w.backbone.table.Insert(pfx, jl[n.Jurisdiction].ends[1])
			}
		}
		if n.Border.Policy != "" {
			w.borders = append(w.borders, BorderSpec{Jurisdiction: n.Jurisdiction, Network: n.Name, Policy: n.Border.Policy, Router: r})
		}
	}
	for _, hp := range p.Hosts {
		r := nr[hp.Network]
		if r == nil {
			return fmt.Errorf("world: host %q: no network %q", hp.Name, hp.Network)
		}
		if _, dup := w.hosts[hp.Name]; dup {
			return fmt.Errorf("world: duplicate host %q", hp.Name)
		}
		h := &Host{plan: hp, w: w}
		l, err := w.link(hp.Name, h, r, hp.Link, false)
		if err != nil {
			return err
		}
		h.up = l.ends[0]
		for _, a := range hp.Addrs {
			r.table.Insert(netip.PrefixFrom(a, a.BitLen()), l.ends[1])
		}
		w.hosts[hp.Name] = h
		w.order = append(w.order, h)
	}
	w.wireHops()
	if gw := w.opts.Gateway; gw != nil {
		for _, b := range w.borders {
			g, err := gw(b)
			if err != nil {
				return fmt.Errorf("world: border of %s: %w", b.Name(), err)
			}
			b.Router.SetGateway(g)
		}
	}
	return nil
}

// Close stops every service, stack and link of the world. It is safe to call
// more than once.
func (w *World) Close() error {
	w.closeOnce.Do(func() {
		w.svc.stop()
		parallel(len(w.order), func(i int) error {
			w.order[i].close()
			return nil
		})
		for _, l := range w.links {
			l.close()
		}
	})
	return nil
}

// parallel runs f(0..n-1) on GOMAXPROCS goroutines and returns the first
// error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}
