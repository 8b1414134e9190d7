package lab

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/backend"
	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// Options tune how a lab starts. The zero value is usable: the system
// clock (or the scenario's at: date), random seeds, decisions kept in
// memory only.
type Options struct {
	// At is the world's date: the lab's clock starts there (an Offset
	// clock: real time moved to that date) and every border that follows a
	// censor's history applies the version then in force, changing version
	// when the clock reaches the next one. Zero means the scenario's at:,
	// else now. Give At or Clock, not both.
	At time.Time
	// Clock is the one clock of the world, its borders, its services and
	// its probes; nil is the system clock moved to At (if set). Its time at
	// Start is the world's date.
	Clock clock.Clock
	// LinkClock, if set, drives the links' propagation and serialisation
	// instead of Clock (see world.Options.LinkClock).
	LinkClock clock.Clock
	// Seed makes link impairments and the censors' random choices
	// reproducible; 0 draws a random seed.
	Seed uint64
	// Decisions, if not nil, receives every border decision as a JSON line
	// as it is taken.
	Decisions io.Writer
	// Keep is how many decisions are kept in memory for scoring; 0 means
	// one million, a negative Keep none.
	Keep int
	// OnDecision, if not nil, is handed every border decision as it is
	// taken, in order, before the border goes on (border.Log.Hook): it
	// must be quick, and must not call the lab's log.
	OnDecision func(border.Decision)
	// MTU of every host interface; 0 means 1500.
	MTU uint32
	// NoServices builds the fabric and the borders only: no DNS, web
	// sites, CA or test helper.
	NoServices bool
	// Reports is the folder the OONI collector on the control host keeps
	// submitted reports in; "" keeps none.
	Reports string
	// Transparency, if set, has every border enforce only a logged policy
	// version, and cite its index in every decision (see Transparency).
	Transparency *Transparency
	// Pacer, if set, paces the lab's probers and its test helper to the
	// machine's load (probe.Pacer); Start starts its sampling for the
	// lab's life (see startPacer). Run makes one when none is given.
	Pacer *probe.Pacer
}

// Lab is a running laboratory: a world with its borders and services.
type Lab struct {
	spec     *Spec
	w        *world.World
	clk      clock.Clock
	log      *border.Log
	geo      *probe.Geo
	control  *probe.ControlClient
	services *backend.Backend
	pacer    *probe.Pacer
	cancel   context.CancelFunc
	// gates are the borders, each with the engine of the version in force
	// (date.go).
	gates gates
	// date is the world's date the lab started at.
	date time.Time
	// admitted holds what each border proved (nil without Transparency).
	admitted map[string]*Admission
}

// Date is the world's date the lab started at: Options.At, the scenario's
// at:, or its clock's time at Start.
func (l *Lab) Date() time.Time { return l.date }

// Start builds one engine per border of s for the policy in force at the
// world's date (Options.At), starts the world with them as its gateways,
// and (unless opts.NoServices) the test helper on the control host. A
// policy the engine cannot build is an *InputError. Close stops it.
func (s *Spec) Start(ctx context.Context, opts Options) (*Lab, error) {
	clk, err := s.clock(opts)
	if err != nil {
		return nil, err
	}
	l := &Lab{spec: s, clk: clk, log: border.NewLog(opts.Decisions, opts.Keep), date: clk.Now()}
	if opts.OnDecision != nil {
		l.log.Hook(opts.OnDecision)
	}
	if opts.Clock == nil && !opts.At.IsZero() {
		l.date = opts.At
	} else if opts.Clock == nil && !s.Scenario.At.IsZero() {
		l.date = s.Scenario.At
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	at := clk.Now()
	if t := opts.Transparency; t != nil {
		// Each border proves the version in force at the lab's date, and
		// keeps it: a later version would have to be logged and proved.
		var err error
		if l.admitted, err = t.admit(s.dated(at), at); err != nil {
			return nil, err
		}
		l.gates.pinned = true
	}
	index := func(border string) *int64 {
		if a := l.admitted[border]; a != nil {
			return &a.Verified.Index
		}
		return nil
	}
	if err := l.gates.init(s, clk, l.log, seed, index); err != nil {
		return nil, err
	}
	w, err := world.Build(s.Plan, world.Options{Clock: l.clk, LinkClock: opts.LinkClock, Seed: seed, MTU: opts.MTU, NoServices: opts.NoServices,
		Gateway: l.gates.gateway})
	if err != nil {
		l.gates.close()
		return nil, fmt.Errorf("starting the world: %w", err)
	}
	l.w = w
	l.gates.follow()
	l.geo = probe.PlanGeo(s.Plan)
	ctx, l.cancel = context.WithCancel(ctx)
	l.startPacer(ctx, opts.Pacer)
	if !opts.NoServices {
		if err := l.startControl(ctx, opts.Reports); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

// Start loads a scenario (Load) and starts it.
func Start(ctx context.Context, nameOrPath string, opts Options) (*Lab, error) {
	s, err := Load(nameOrPath)
	if err != nil {
		return nil, err
	}
	return s.Start(ctx, opts)
}

// startControl serves, on the control host (if there is one), the test
// helper and the OONI probe services around it (package backend): the
// helper over HTTP and HTTPS, the probe-services API, the collector, the IP
// lookups and STUN, so that OONI's own probe runs in the world as splinter's
// does.
func (l *Lab) startControl(ctx context.Context, reports string) error {
	h := l.ControlHost()
	if h == nil {
		return nil
	}
	helper := probe.ControlHandler(probe.New(h, probe.Config{RootCAs: l.w.CA().Pool(), Geo: l.geo, Clock: l.clk, Vantage: probe.Vantage{Host: h.Name()}, Pacer: l.pacer}))
	name := h.Name() + "." + strings.TrimSuffix(world.HostsZone, ".")
	// Its certificate names it, and the services it stands in for
	// (scenario.LookupNames: www.cloudflare.com, geoip.ubuntu.com).
	tlsNames := append([]string{name}, l.w.Plan().NamesOf(h.Name())...)
	b, err := backend.Start(ctx, h, backend.Config{
		TLS: l.w.CA().ServerTLSConfig(tlsNames...), Helper: helper, Advertise: name, Reports: reports,
		Country: l.geo.CC, Clock: l.clk,
	})
	if err != nil {
		return fmt.Errorf("starting the test helper and probe services on %s: %w", h.Name(), err)
	}
	l.services = b
	l.control = probe.NewControlClient(h, netip.AddrPortFrom(h.Addr(4), 80))
	return nil
}

// Services are the OONI probe services' URLs on the control host (the
// zero value without one).
func (l *Lab) Services() backend.URLs {
	if l.services == nil {
		return backend.URLs{}
	}
	return l.services.URLs()
}

// ControlHost is the host that serves the test helper, or nil if the
// scenario has none.
func (l *Lab) ControlHost() *world.Host {
	for _, h := range l.w.Hosts() {
		if h.Role() == scenario.RoleControl {
			return h
		}
	}
	return nil
}

// ControlAddr is where the test helper listens (invalid without one).
func (l *Lab) ControlAddr() netip.AddrPort {
	if l.control == nil {
		return netip.AddrPort{}
	}
	return l.control.Addr()
}

// Spec is what the lab was started from.
func (l *Lab) Spec() *Spec { return l.spec }

// World is the running world.
func (l *Lab) World() *world.World { return l.w }

// Clock is the lab's one clock.
func (l *Lab) Clock() clock.Clock { return l.clk }

// Log is the decision log every border writes to: the ground truth.
func (l *Lab) Log() *border.Log { return l.log }

// Engine returns the censor engine a border ("CN", "CN/cn-henan-unicom")
// runs now, or nil (no such border, or no policy in force). A border that
// follows a history gets a new engine when the clock reaches its next
// version.
func (l *Lab) Engine(name string) *border.Engine { return l.gates.engine(name) }

// Close stops the services, the world and the engines.
func (l *Lab) Close() error {
	if l.cancel != nil {
		l.cancel()
	}
	l.gates.stop()
	if l.services != nil {
		l.services.Close()
	}
	if l.w != nil {
		l.w.Close()
	}
	l.gates.close()
	return nil
}

// Prober sets a host up as a vantage: the scenario CA, the plan's
// geography, the test helper, a public resolver in another jurisdiction,
// the lab's clock; tune adjusts the config last.
func (l *Lab) Prober(host string, tune ...func(*probe.Config)) (*probe.Prober, error) {
	h, err := l.w.LookupHost(host)
	if err != nil {
		return nil, badInput(err)
	}
	cfg := probe.Config{
		RootCAs: l.w.CA().Pool(), Geo: l.geo, Clock: l.clk,
		Vantage: probe.Vantage{Host: h.Name(), CC: h.Jurisdiction()},
		Pacer:   l.pacer,
	}
	if l.control != nil {
		cfg.Control = l.control
	}
	for _, o := range l.w.Hosts() {
		if o.Role() == scenario.RolePublicResolver && o.Jurisdiction() != h.Jurisdiction() {
			cfg.ForeignResolver = netip.AddrPortFrom(o.Addrs()[0], 53)
			break
		}
	}
	// Throughput tests share the access link: fewer at once on a slow one.
	if bw := h.Plan().Link.Bandwidth; bw > 0 {
		cfg.ThroughputConcurrency = int(min(max(bw/2e6, 3), 8))
	}
	for _, t := range tune {
		t(&cfg)
	}
	return probe.New(h, cfg), nil
}

// Measure runs one web_connectivity measurement of url from host: the Go
// API for what `splinter measure` prints.
func (l *Lab) Measure(ctx context.Context, host, url string) (*probe.Measurement, error) {
	p, err := l.Prober(host)
	if err != nil {
		return nil, err
	}
	if err := CheckURL(url); err != nil {
		return nil, err
	}
	return p.WebConnectivity(ctx, url, probe.ReportID(l.clk.Now(), p.Config().Vantage, "0000")), nil
}
