package score

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
)

// StreamOptions tune a Stream. The zero value is usable.
type StreamOptions struct {
	Options
	Limits
	// Item, if set, receives every item as it is scored (to write it to a
	// store, to count it in a report), from the goroutine that called
	// Advance or Result.
	Item func(Item)
	// Wait is how long past a measurement's window (its end and the slack)
	// its decisions may still be on their way; 0 means one second.
	Wait time.Duration
}

// Stream scores a run's measurements while the run makes them, in memory
// that does not grow with the run: it is told the decisions as the borders
// take them, when each measurement begins and when it ends, and the time;
// it joins each measurement once its window has closed (its end, the
// slack and Wait), counts it in a Tally and forgets it. Of the decisions it
// keeps only what a join may still need: those since the oldest
// measurement not yet joined began, and, per client address and DNS name,
// one decision of each border rule and action that named the name in a
// query (a vantage's resolver carries a poisoned answer in its cache, so
// the join takes those whatever their time, as Score does). Where a
// resolver asked the same name again and met the same rule, a measurement
// is joined to the first such decision only, not to each.
//
// The calls must come in the order the events happened (a decision before
// the measurement that ends after it is told ended); a Stream is not safe
// for concurrent use.
type Stream struct {
	opts    StreamOptions
	tally   *Tally
	window  map[netip.Addr][]border.Decision
	named   map[nameKey][]border.Decision
	kinds   map[kindKey]bool
	open    map[int]time.Time
	pending []pendingItem
	now     time.Time
}

type nameKey struct {
	client netip.Addr
	name   string
}

type kindKey struct {
	nameKey
	border, rule string
	action       border.ActionKind
	enforced     bool
	effect       border.Effect
	layer        border.Layer
}

type pendingItem struct {
	m     *probe.Measurement
	start time.Time
	ready time.Time
}

// NewStream returns a stream with nothing told yet.
func NewStream(opts StreamOptions) *Stream {
	if opts.Wait <= 0 {
		opts.Wait = time.Second
	}
	return &Stream{opts: opts, tally: NewTally(opts.Limits), window: map[netip.Addr][]border.Decision{},
		named: map[nameKey][]border.Decision{}, kinds: map[kindKey]bool{}, open: map[int]time.Time{}}
}

// Decision tells the stream of a border decision.
func (s *Stream) Decision(d border.Decision) {
	a := d.Client.Addr().Unmap()
	s.window[a] = append(s.window[a], d)
	for _, e := range d.Evidence {
		if e.Kind != border.EvidenceQName {
			continue
		}
		nk := nameKey{a, normName(e.Value)}
		kk := kindKey{nk, d.Border, d.Rule, d.Action, d.Enforced, d.Effect, d.Layer}
		if s.kinds[kk] {
			continue
		}
		s.kinds[kk] = true
		s.named[nk] = append(s.named[nk], d)
	}
}

// Begin tells the stream that measurement id began at t (no later than the
// measurement's own start): decisions from t on are kept for it.
func (s *Stream) Begin(id int, t time.Time) { s.open[id] = t }

// Measurement tells the stream that measurement id ended with m; it is
// joined once its window has closed (Advance). A nil m (a measurement
// abandoned) only ends id.
func (s *Stream) Measurement(id int, m *probe.Measurement) {
	delete(s.open, id)
	if m == nil {
		return
	}
	if m.TestKeys == nil {
		s.score(m, nil)
		return
	}
	start, end := window(m)
	s.pending = append(s.pending, pendingItem{m: m, start: start, ready: end.Add(s.opts.Wait)})
}

// Advance tells the stream the time: every decision taken before now has
// been told. It joins the measurements whose window closed, and forgets
// the decisions no measurement begun or pending can need.
func (s *Stream) Advance(now time.Time) {
	s.now = now
	rest := s.pending[:0]
	for _, p := range s.pending {
		if p.ready.After(now) {
			rest = append(rest, p)
			continue
		}
		s.score(p.m, s.join(p.m))
	}
	clear(s.pending[len(rest):])
	s.pending = rest
	s.forget()
}

// forget drops the decisions older than every measurement open or pending
// (less the slack, for a clock read a little early).
func (s *Stream) forget() {
	cut := s.now
	for _, t := range s.open {
		if t.Before(cut) {
			cut = t
		}
	}
	for _, p := range s.pending {
		if p.start.Before(cut) {
			cut = p.start
		}
	}
	cut = cut.Add(-slack)
	for a, ds := range s.window {
		i := 0
		for i < len(ds) && ds[i].Time.Before(cut) {
			i++
		}
		if i == 0 {
			continue
		}
		if i == len(ds) {
			delete(s.window, a)
			continue
		}
		n := copy(ds, ds[i:])
		clear(ds[n:])
		s.window[a] = ds[:n]
	}
}

// Held is how many decisions the stream holds (in its window and by name),
// and how many measurements wait for their window to close.
func (s *Stream) Held() (decisions, pending int) {
	for _, ds := range s.window {
		decisions += len(ds)
	}
	for _, ds := range s.named {
		decisions += len(ds)
	}
	return decisions, len(s.pending)
}

// Result joins every measurement still pending, whatever the time (the
// run is over: no decision is on its way), and returns the scoring.
func (s *Stream) Result() *Result {
	for _, p := range s.pending {
		s.score(p.m, s.join(p.m))
	}
	s.pending = nil
	return s.tally.Result()
}

func (s *Stream) score(m *probe.Measurement, ds []border.Decision) {
	it := NewItem(m, ds, s.opts.Options)
	it.Index = s.tally.Total()
	s.tally.Add(it)
	if s.opts.Item != nil {
		s.opts.Item(it)
	}
}

// join is Index.join over what the stream holds.
func (s *Stream) join(m *probe.Measurement) []border.Decision {
	tk := m.TestKeys
	domain := host(m.Input)
	out := vantageDecisions(m, func(a netip.Addr) []border.Decision { return s.window[a] })
	if r := tk.Vantage.Resolver; r.IsValid() {
		out = append(out, s.named[nameKey{r.Unmap(), normName(domain)}]...)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Time.Before(out[b].Time) })
	return out
}

func normName(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }
