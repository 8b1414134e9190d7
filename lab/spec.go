package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
)

// InputError marks an error caused by what the user gave (a scenario, a
// policy, a list, a flag's value): the command line exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsInput reports whether err was caused by bad input.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func badInput(err error) error {
	if err == nil || IsInput(err) {
		return err
	}
	return &InputError{err}
}

// Spec is a scenario whose every policy reference is resolved: what a lab is
// started from. Its fields may be adjusted before Start (a test substitutes
// a policy).
type Spec struct {
	Scenario *scenario.Scenario
	Plan     *scenario.Plan
	// Borders are the borders that apply a policy, in plan order.
	Borders []Border
	// At is the date the borders' policies were picked for: the
	// scenario's at:, or the time the spec was made. Start picks again
	// for the lab's own date.
	At time.Time
	// embedded is set for a scenario opened by its embedded name: its
	// policy references are embedded profiles only.
	embedded bool
	// names are the sites' domains, lower-cased (see Exists).
	namesOnce sync.Once
	names     map[string]bool
}

// Border is one border of the world with its resolved policy.
type Border struct {
	// Name is "CN", or "CN/cn-henan-unicom" for a network's own border.
	Name         string
	Jurisdiction string
	Network      string
	// Ref is the policy reference as the scenario wrote it.
	Ref string
	// History is the censor's history when Ref names one (an embedded
	// history such as "CN", or a history file): the world's date picks the
	// version the border applies. Nil when the policy is fixed (a version
	// such as "CN-2019", a policy file, a policy given in Go).
	History *policy.History
	// Policy is what the border applies at the spec's date; nil when its
	// history has no version in force then (the border applies nothing).
	Policy *policy.Policy
}

// At returns the policy the border applies at t: its history's version
// then in force (nil before the first), or its fixed policy.
func (b *Border) At(t time.Time) *policy.Policy {
	if b.History == nil {
		return b.Policy
	}
	if v := b.History.At(t); v != nil {
		return v.Policy
	}
	return nil
}

// clone copies s with its own Borders, to set other policies on them:
// each border keeps the policy of the spec's date and no longer follows
// its history.
func (s *Spec) clone() *Spec {
	c := &Spec{Scenario: s.Scenario, Plan: s.Plan, Borders: slices.Clone(s.Borders), At: s.At, embedded: s.embedded}
	for i := range c.Borders {
		c.Borders[i].History = nil
	}
	return c
}

// Policy returns the policy of the named border, or nil.
func (s *Spec) Policy(border string) *policy.Policy {
	for _, b := range s.Borders {
		if b.Name == border {
			return b.Policy
		}
	}
	return nil
}

// SetPolicy makes every border whose scenario names ref apply p instead,
// whatever the date.
func (s *Spec) SetPolicy(ref string, p *policy.Policy) {
	for i := range s.Borders {
		if s.Borders[i].Ref == ref {
			s.Borders[i].Policy, s.Borders[i].History = p, nil
		}
	}
}

// PickVersions makes every border that follows a history apply the
// version in force at t, and records t as the spec's date.
func (s *Spec) PickVersions(t time.Time) {
	s.At = t
	for i := range s.Borders {
		s.Borders[i].Policy = s.Borders[i].At(t)
	}
}

// Load opens a scenario, by embedded name or by file path, plans it and
// resolves every policy reference. Every error is an *InputError.
func Load(nameOrPath string) (*Spec, error) {
	sc, err := scenario.Open(nameOrPath)
	if err != nil {
		return nil, badInput(err)
	}
	return FromScenario(sc, Resolve{Embedded: slices.Contains(scenario.Names(), nameOrPath)})
}

// Resolve tunes how FromScenario resolves policy references.
type Resolve struct {
	// Embedded says sc is an embedded scenario, whose references must be
	// embedded profiles.
	Embedded bool
	// Policies, if it holds a reference, gives its policy: for programs
	// and tests that build policies themselves.
	Policies map[string]*policy.Policy
}

// FromScenario plans sc and resolves its policy references: a policy given
// in r.Policies, else an embedded profile, else (for a scenario read from a
// file) a policy file inside the scenario's folder. Every error is an
// *InputError.
func FromScenario(sc *scenario.Scenario, r Resolve) (*Spec, error) {
	// The policies load while the scenario is planned.
	type planned struct {
		plan *scenario.Plan
		err  error
	}
	planc := make(chan planned, 1)
	go func() {
		plan, err := sc.Plan()
		planc <- planned{plan, err}
	}()
	s := &Spec{Scenario: sc, embedded: r.Embedded, At: sc.At}
	if s.At.IsZero() {
		s.At = time.Now()
	}
	err := s.resolveAll(r)
	pl := <-planc
	if pl.err != nil {
		return nil, badInput(errors.Join(pl.err, err))
	}
	if err != nil {
		return nil, badInput(err)
	}
	s.Plan = pl.plan
	return s, nil
}

// resolveAll resolves every border's policy reference, each once.
func (s *Spec) resolveAll(r Resolve) error {
	sc := s.Scenario
	type policyRef struct{ name, jur, net, ref, path string }
	var refs []policyRef
	for i, j := range sc.Jurisdictions {
		if j.Border.Policy != "" {
			refs = append(refs, policyRef{j.Code, j.Code, "", j.Border.Policy, fmt.Sprintf("jurisdictions[%d].border.policy", i)})
		}
		for k, n := range j.Networks {
			if n.Border.Policy != "" {
				refs = append(refs, policyRef{j.Code + "/" + n.Name, j.Code, n.Name, n.Border.Policy, fmt.Sprintf("jurisdictions[%d].networks[%d].border.policy", i, k)})
			}
		}
	}
	type resolved struct {
		p *policy.Policy
		h *policy.History
	}
	loaded := map[string]resolved{}
	var errs []error
	for _, ref := range refs {
		res, seen := loaded[ref.ref]
		if given, ok := r.Policies[ref.ref]; ok {
			res, seen = resolved{p: given}, true
		}
		if !seen {
			p, h, err := s.resolve(ref.ref)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: border of %s: policy %q: %w", sc.PosOf(ref.path), ref.name, ref.ref, err))
			}
			res = resolved{p, h}
			loaded[ref.ref] = res
		}
		if res.p != nil || res.h != nil {
			b := Border{Name: ref.name, Jurisdiction: ref.jur, Network: ref.net, Ref: ref.ref, Policy: res.p, History: res.h}
			b.Policy = b.At(s.At)
			s.Borders = append(s.Borders, b)
		}
	}
	return errors.Join(errs...)
}

// resolve finds the policy or history a scenario names: an embedded
// profile (a history, or one of its versions), or a policy or history file
// inside the scenario file's folder.
func (s *Spec) resolve(ref string) (*policy.Policy, *policy.History, error) {
	switch {
	case profiles.IsHistory(ref):
		h, err := profiles.History(ref)
		return nil, h, err
	case profiles.Has(ref):
		p, err := profiles.Load(ref)
		return p, nil, err
	case s.embedded || s.Scenario.Source == "":
		return nil, nil, fmt.Errorf("not an embedded profile (%s)", strings.Join(profiles.Names(), ", "))
	case !policy.LocalRef(ref):
		return nil, nil, fmt.Errorf("neither an embedded profile (%s) nor a file inside the scenario's folder", strings.Join(profiles.Names(), ", "))
	}
	// Inside the scenario's folder, symbolic links included.
	p, h, err := policy.LoadHistoryFileIn(filepath.Dir(s.Scenario.Source), ref)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("neither an embedded profile (%s) nor a file in the scenario's folder (%w)", strings.Join(profiles.Names(), ", "), err)
	}
	return p, h, err
}

// CheckPolicy validates a policy file or embedded profile on its own, as
// `splinter check` does, and compiles it.
func CheckPolicy(p *policy.Policy) error {
	e, err := border.New(p, border.Config{})
	if err == nil {
		e.Close()
	}
	return badInput(err)
}

// CheckBorder compiles what a border may apply: its fixed policy, or every
// version of its history.
func CheckBorder(b Border) error {
	if b.History == nil {
		if b.Policy == nil {
			return nil
		}
		return CheckPolicy(b.Policy)
	}
	for _, v := range b.History.Versions {
		if err := CheckPolicy(v.Policy); err != nil {
			return fmt.Errorf("version %s: %w", v.Name, err)
		}
	}
	return nil
}
