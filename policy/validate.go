package policy

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a policy.
type Problem struct {
	// Pos is where the problem is; zero for policies built in Go.
	Pos Pos
	// Path names the offending element in YAML terms
	// ("rules[2].match[0].tls-sni.list").
	Path string
	// Msg says what is wrong, quoting the offending value.
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Pos.IsValid() {
		b.WriteString(p.Pos.String())
	} else {
		b.WriteString("policy")
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found loading or validating a policy. Load and
// Validate return it as an error only when it holds at least one problem.
type Error struct {
	Problems []Problem
}

// Error returns one line per problem, "file:line:col: path: msg" (or
// "policy: path: msg" when the position is unknown), sorted by position.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Error) add(pos Pos, path, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errOrNil sorts the problems by position (unknown positions last, in the
// order found) and returns e, or nil if there are none.
func (e *Error) errOrNil() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	slices.SortStableFunc(e.Problems, func(a, b Problem) int {
		if a.Pos.IsValid() != b.Pos.IsValid() {
			if a.Pos.IsValid() {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	e.Problems = slices.Compact(e.Problems)
	return e
}

// Checker is what a matcher's or action's Validate reports to. It knows the
// policy (to resolve list references) and where the config sits in it (to
// name file:line:column). Its zero value is not usable; Validate makes them.
type Checker struct {
	p    *Policy
	path string
	err  *Error
}

// Policy returns the policy being validated.
func (c *Checker) Policy() *Policy { return c.p }

// Path returns the YAML path of the config being checked.
func (c *Checker) Path() string { return c.path }

// Errorf reports a problem with field ("" for the config as a whole; dotted
// and indexed for nested fields, "answer.pool[2]"). Quote the offending
// value in the message.
func (c *Checker) Errorf(field, format string, args ...any) {
	path := joinPath(c.path, field)
	if c.p.bad[path] {
		return // already reported by the decoder
	}
	c.err.add(c.p.posOf(path), path, format, args...)
}

// Sub returns a checker for a nested element (an injector of dns-inject).
func (c *Checker) Sub(field string) *Checker {
	return &Checker{p: c.p, path: joinPath(c.path, field), err: c.err}
}

// List resolves a list reference. An empty name is reported as missing when
// required, and otherwise returns nil quietly. A name that is not defined,
// or a list whose kind is not among kinds (when kinds are given), is
// reported and returns nil.
func (c *Checker) List(field, name string, required bool, kinds ...ListKind) *List {
	if name == "" {
		if required {
			c.Errorf(field, "a list is required")
		}
		return nil
	}
	l := c.p.Lists[name]
	if l == nil {
		c.Errorf(field, "no list named %q%s", name, c.p.listHint())
		return nil
	}
	if len(kinds) > 0 && !slices.Contains(kinds, l.Kind) {
		c.Errorf(field, "list %q is a %s list; want %s", name, l.Kind, joinKinds(kinds))
		return nil
	}
	return l
}

// Probability reports p unless it is nil or in [0, 1].
func (c *Checker) Probability(field string, p *float64) {
	if p != nil && !(*p >= 0 && *p <= 1) {
		c.Errorf(field, "probability %v is not in [0, 1]", *p)
	}
}

// OneOf reports v unless it is one of allowed (or "" when empty is allowed).
func OneOf[T ~string](c *Checker, field string, v T, emptyOK bool, allowed ...T) {
	if (v == "" && emptyOK) || slices.Contains(allowed, v) {
		return
	}
	var names []string
	for _, a := range allowed {
		names = append(names, string(a))
	}
	c.Errorf(field, "%q is not one of %s", string(v), strings.Join(names, ", "))
}

func joinKinds(kinds []ListKind) string {
	var names []string
	for _, k := range kinds {
		names = append(names, string(k))
	}
	if len(names) == 1 {
		return "a " + names[0] + " list"
	}
	return "a " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1] + " list"
}

func joinPath(base, field string) string {
	switch {
	case field == "":
		return base
	case base == "":
		return field
	case field[0] == '[':
		return base + field
	}
	return base + "." + field
}

// posOf returns the position recorded for path or its nearest ancestor.
func (p *Policy) posOf(path string) Pos {
	for p.pos != nil {
		if pos, ok := p.pos[path]; ok {
			return pos
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	if p.Pos.IsValid() {
		return p.Pos
	}
	return Pos{File: p.Source}
}

func (p *Policy) listHint() string {
	if len(p.Lists) == 0 {
		return " (the policy defines no lists)"
	}
	names := make([]string, 0, len(p.Lists))
	for n := range p.Lists {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return " (lists: " + strings.Join(names, ", ") + ")"
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate checks the whole policy and returns an *Error listing every
// problem, or nil. It checks the kinds, list references and list kinds,
// every list item (bad regexes, prefixes, names, ports), probabilities,
// scopes and inspection settings, and that every rule has a unique ID, a
// Source citation and a Year. It does not read files: list sources are read
// by Load or ReadSources.
func (p *Policy) Validate() error {
	e := &Error{}
	p.validate(e)
	return e.errOrNil()
}

func (p *Policy) validate(e *Error) {
	c := &Checker{p: p, err: e}
	if p.Name == "" {
		c.Errorf("name", "a policy needs a name")
	}
	if y := p.Meta.Year; y != 0 && (y < 1990 || y > 2100) {
		c.Errorf("meta.year", "year %d is not plausible", y)
	}
	p.TCP.validate(c)
	p.IP.validate(c)

	names := make([]string, 0, len(p.Lists))
	for n := range p.Lists {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		l := p.Lists[n]
		lc := c.Sub("lists." + n)
		if l == nil {
			lc.Errorf("", "list %q is nil", n)
			continue
		}
		if l.Name != n {
			lc.Errorf("", "list keyed %q is named %q", n, l.Name)
		}
		l.validate(lc)
	}

	if len(p.Rules) == 0 {
		c.Errorf("rules", "a policy needs at least one rule")
	}
	seen := map[string]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		rc := c.Sub("rules[" + strconv.Itoa(i) + "]")
		switch {
		case r.ID == "":
			rc.Errorf("id", "a rule needs an id")
		case !idRE.MatchString(r.ID):
			rc.Errorf("id", "id %q: use letters, digits, '.', '_' and '-'", r.ID)
		default:
			if j, dup := seen[r.ID]; dup {
				rc.Errorf("id", "id %q is already used by rules[%d]", r.ID, j)
			} else {
				seen[r.ID] = i
			}
		}
		if strings.TrimSpace(r.Source) == "" {
			rc.Errorf("source", "a rule must cite its source (a paper or report)")
		}
		switch {
		case r.Year == 0:
			rc.Errorf("year", "a rule must give the year the behaviour was observed")
		case r.Year < 1990 || r.Year > 2100:
			rc.Errorf("year", "year %d is not plausible", r.Year)
		}
		r.Scope.validate(rc.Sub("scope"))
		r.Inspect.validate(rc.Sub("inspect"))
		r.Inspect.validateBox(rc.Sub("inspect"), &p.TCP)
		if len(r.Match) == 0 {
			rc.Errorf("match", "a rule needs at least one matcher (use \"any\" to match everything in scope)")
		}
		for j, m := range r.Match {
			mc := rc.Sub("match[" + strconv.Itoa(j) + "]")
			if m == nil {
				mc.Errorf("", "matcher is nil")
				continue
			}
			m.Validate(mc.Sub(m.Kind()))
		}
		if len(r.Actions) == 0 {
			rc.Errorf("actions", "a rule needs at least one action")
		}
		for j, a := range r.Actions {
			ac := rc.Sub("actions[" + strconv.Itoa(j) + "]")
			if a == nil {
				ac.Errorf("", "action is nil")
				continue
			}
			a.Validate(ac.Sub(a.Kind()))
		}
	}
}

func (s *Scope) validate(c *Checker) {
	OneOf(c, "direction", s.Direction, true, Outbound, Inbound, Both)
	for i, p := range s.Protocols {
		OneOf(c, "protocols["+strconv.Itoa(i)+"]", p, false, TCP, UDP, ICMP)
	}
	for i, r := range s.Ports {
		if r.Lo == 0 || r.Lo > r.Hi {
			c.Errorf("ports["+strconv.Itoa(i)+"]", "invalid port range %q", r)
		}
	}
	s.Destinations.validate(c, "destinations")
	s.Sources.validate(c, "sources")
	c.Probability("probability", s.Probability)
	w := s.Active
	// Until is inclusive (the engine keeps a rule in force through that
	// day), so a window of one day has from and until equal.
	if !w.From.IsZero() && !w.Until.IsZero() && w.Until.Time().Before(w.From.Time()) {
		c.Errorf("active.until", "until %s is before from %s", w.Until, w.From)
	}
	if len(w.Periods) > 0 && (!w.From.IsZero() || !w.Until.IsZero()) {
		c.Errorf("active.periods", "give either from/until or periods, not both")
	}
	for i, p := range w.Periods {
		f := "active.periods[" + strconv.Itoa(i) + "]"
		if !p.From.IsZero() && !p.Until.IsZero() && p.Until.Time().Before(p.From.Time()) {
			c.Errorf(f+".until", "until %s is before from %s", p.Until, p.From)
		}
		if p.From.IsZero() && p.Until.IsZero() {
			c.Errorf(f, "a period needs a from or an until date")
		}
		if i > 0 && !w.Periods[i-1].Until.IsZero() && !p.From.IsZero() && !p.From.Time().After(w.Periods[i-1].Until.Time()) {
			c.Errorf(f+".from", "period starting %s overlaps or precedes the one before (until %s): list periods in order", p.From, w.Periods[i-1].Until)
		}
	}
}

func (a *AddrSet) validate(c *Checker, field string) {
	c.List(joinPath(field, "list"), a.List, false, Prefixes)
	for i, p := range a.Prefixes {
		f := joinPath(field, "prefixes["+strconv.Itoa(i)+"]")
		if !p.IsValid() {
			c.Errorf(f, "invalid prefix")
		} else if p != p.Masked() {
			c.Errorf(f, "prefix %q has host bits set (did you mean %s?)", p, p.Masked())
		}
	}
}

func (in *Inspect) validate(c *Checker) {
	OneOf(c, "packets", in.Packets, true, First, FirstN, All, FirstRequest, WhileRequest)
	switch {
	case in.Packets == FirstN && in.N <= 0:
		c.Errorf("n", "packets: first-n needs n > 0, got %d", in.N)
	case in.Packets != FirstN && in.N != 0:
		c.Errorf("n", "n %d is only meaningful with packets: first-n", in.N)
	}
	if in.MaxBytes < 0 {
		c.Errorf("max-bytes", "max-bytes %d is negative", in.MaxBytes)
	}
	if (in.Packets == FirstRequest || in.Packets == WhileRequest) && in.ReassembleTCP {
		c.Errorf("packets", "%s takes each packet on its own: drop reassemble-tcp", in.Packets)
	}
	if in.ReassembleTLS && !in.ReassembleTCP && (in.Packets == First || in.Packets == FirstRequest || in.Packets == WhileRequest) {
		c.Errorf("reassemble-tls", "reassemble-tls needs more than the first packet")
	}
}
