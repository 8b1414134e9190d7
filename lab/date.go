package lab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/world"
)

// The world's date. A lab's clock says what day it is in the world; a
// border whose scenario names a censor's history (an embedded profile such
// as "CN", or a history file) applies the version in force at the clock's
// time, and a new engine takes over when the clock reaches the next
// version's date (a timer on the lab's clock: a manual clock's Advance, an
// offset clock's Jump or its plain running cross it alike). Rules' active:
// windows follow the same clock inside the engines.

// clock returns the clock a lab started with opts runs on.
func (s *Spec) clock(opts Options) (clock.Clock, error) {
	at := opts.At
	switch {
	case opts.Clock != nil && !at.IsZero():
		return nil, badInput(errors.New("give the lab a date (At) or a clock, not both"))
	case opts.Clock != nil:
		return opts.Clock, nil
	}
	if at.IsZero() {
		at = s.Scenario.At
	}
	if at.IsZero() {
		return clock.System, nil
	}
	return clock.NewOffset(at), nil
}

// InForce is what one border applies at a date.
type InForce struct {
	Border       string `json:"border"`
	Jurisdiction string `json:"jurisdiction"`
	// Ref is the policy reference as the scenario wrote it.
	Ref string `json:"ref"`
	// History names the censor's history the policy is a version of, if
	// any.
	History string `json:"history,omitempty"`
	// Policy names the policy or version in force; "" when the history has
	// no version in force yet (the border applies nothing).
	Policy string `json:"policy,omitempty"`
	// Since is the version's date (YYYY-MM-DD), if known.
	Since string `json:"since,omitempty"`
	// Follows says the border follows its history (the date picks the
	// version); false for a pinned version or a policy.
	Follows bool `json:"follows_date,omitempty"`
}

func inForceOf(b Border, p *policy.Policy) InForce {
	f := InForce{Border: b.Name, Jurisdiction: b.Jurisdiction, Ref: b.Ref, Follows: b.History != nil}
	if b.History != nil {
		f.History = b.History.Name
	}
	if p != nil {
		f.Policy = p.Name
		if p.History != "" {
			f.History = p.History
		}
		f.Since = p.Meta.Effective.String()
	}
	return f
}

// dated is s with each border's policy that of t, without the borders that
// apply nothing then.
func (s *Spec) dated(t time.Time) *Spec {
	c := &Spec{Scenario: s.Scenario, Plan: s.Plan, At: t, embedded: s.embedded}
	for _, b := range s.Borders {
		if p := b.At(t); p != nil {
			b.Policy = p
			c.Borders = append(c.Borders, b)
		}
	}
	return c
}

// InForce says what every border of s applies at t.
func (s *Spec) InForce(t time.Time) []InForce {
	var out []InForce
	for _, b := range s.Borders {
		out = append(out, inForceOf(b, b.At(t)))
	}
	return out
}

// Versions says what every border of the lab applies now.
func (l *Lab) Versions() []InForce { return l.gates.inForce() }

// SetDate moves the lab's clock to t and has every border that follows a
// history apply the version in force then (a new engine with fresh state
// where the version changed; the others keep theirs, their residual blocks
// expiring as the clock passes). The clock must be able to move: an Offset
// clock (forward only, as Options.At makes) or a Manual one.
func (l *Lab) SetDate(t time.Time) error {
	if l.gates.pinned {
		return errors.New("the borders of a lab with a transparency log keep the versions they proved at Start: start a lab at the new date")
	}
	now := l.clk.Now()
	switch c := l.clk.(type) {
	case *clock.Offset:
		if t.Before(now) {
			return badInput(fmt.Errorf("the world's clock reads %s and moves forward only: cannot go back to %s", now.Format(time.DateOnly), t.Format(time.DateOnly)))
		}
		c.Jump(t.Sub(now))
	case *clock.Manual:
		if t.Before(now) {
			return badInput(fmt.Errorf("the world's clock reads %s and moves forward only: cannot go back to %s", now.Format(time.DateOnly), t.Format(time.DateOnly)))
		}
		c.Set(t)
	default:
		return fmt.Errorf("the lab's clock (%T) cannot be moved to a date: start it with Options.At", l.clk)
	}
	return l.gates.sync(t)
}

// gate is one border of a running lab with the engine of the policy in
// force.
type gate struct {
	b      Border
	router *world.Router // once the world is built
	pol    *policy.Policy
	engine *border.Engine
	seed   uint64
	built  int // engines built, to seed each afresh
}

// gates are a lab's borders, and the timer that changes their versions.
type gates struct {
	mu     sync.Mutex
	list   []*gate
	clk    clock.Clock
	log    *border.Log
	timer  clock.Timer
	err    error // the last version change that failed
	closed bool
	// pinned keeps every border's first engine (a lab whose borders proved
	// their versions to a transparency log).
	pinned bool
	// index gives the log index a border's decisions cite (nil: none).
	index func(border string) *int64
}

func (g *gates) init(s *Spec, clk clock.Clock, log *border.Log, seed uint64, index func(string) *int64) error {
	g.clk, g.log, g.index = clk, log, index
	now := clk.Now()
	for _, b := range s.Borders {
		bs := seed
		for _, c := range b.Name {
			bs = bs*31 + uint64(c)
		}
		gt := &gate{b: b, seed: bs}
		if err := g.build(gt, b.At(now)); err != nil {
			g.close()
			return badInput(fmt.Errorf("border of %s: %w", b.Name, err))
		}
		g.list = append(g.list, gt)
	}
	return nil
}

// build makes gt's engine for p (none for nil).
func (g *gates) build(gt *gate, p *policy.Policy) error {
	gt.pol, gt.engine = p, nil
	if p == nil {
		return nil
	}
	cfg := border.Config{Border: gt.b.Name, Jurisdiction: gt.b.Jurisdiction, Log: g.log, Clock: g.clk,
		Rand: rand.New(rand.NewPCG(gt.seed, 0x5eed+uint64(gt.built)))}
	if g.index != nil {
		cfg.PolicyIndex = g.index(gt.b.Name)
	}
	e, err := border.New(p, cfg)
	if err != nil {
		gt.pol = nil
		return err
	}
	gt.built++
	gt.engine = e
	return nil
}

// gateway is world.Options.Gateway: it hands the world each border's
// engine and keeps the border's router for later changes.
func (g *gates) gateway(b world.BorderSpec) (world.Gateway, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gt := range g.list {
		if gt.b.Name == b.Name() {
			gt.router = b.Router
			if gt.engine != nil {
				return gt.engine, nil
			}
		}
	}
	return nil, nil
}

// follow arms the timer for the next version date.
func (g *gates) follow() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.schedule(g.clk.Now())
}

// schedule arms the timer for the first version date after now, if any
// border follows a history with one (g.mu held).
func (g *gates) schedule(now time.Time) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if g.closed || g.pinned {
		return
	}
	var next time.Time
	for _, gt := range g.list {
		if gt.b.History == nil {
			continue
		}
		for _, v := range gt.b.History.Versions {
			if t := v.From.Time(); t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	if next.IsZero() {
		return
	}
	g.timer = g.clk.AfterFunc(next.Sub(now), func() {
		if err := g.sync(g.clk.Now()); err != nil {
			g.mu.Lock()
			g.err = err
			g.mu.Unlock()
		}
	})
}

// sync gives every border the version in force at t and re-arms the
// timer.
func (g *gates) sync(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.pinned {
		return nil
	}
	var errs []error
	for _, gt := range g.list {
		p := gt.b.At(t)
		if p == gt.pol {
			continue
		}
		old := gt.engine
		if err := g.build(gt, p); err != nil {
			errs = append(errs, fmt.Errorf("border of %s: version %s: %w", gt.b.Name, p.Name, err))
		}
		if gt.router != nil {
			if gt.engine != nil {
				gt.router.SetGateway(gt.engine)
			} else {
				gt.router.SetGateway(nil)
			}
		}
		if old != nil {
			old.Close()
		}
	}
	g.schedule(t)
	return errors.Join(errs...)
}

func (g *gates) engine(name string) *border.Engine {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, gt := range g.list {
		if gt.b.Name == name {
			return gt.engine
		}
	}
	return nil
}

func (g *gates) inForce() []InForce {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []InForce
	for _, gt := range g.list {
		out = append(out, inForceOf(gt.b, gt.pol))
	}
	return out
}

// stop disarms the timer: no version changes from now on.
func (g *gates) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}

// close closes every engine.
func (g *gates) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, gt := range g.list {
		if gt.engine != nil {
			gt.engine.Close()
		}
	}
}
