package governance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/policylog"
)

// Problem is one thing wrong with a governance file, and where.
type Problem struct {
	Pos Pos
	Msg string
}

func (p Problem) String() string {
	if s := p.Pos.String(); s != "" {
		return s + ": " + p.Msg
	}
	return "governance: " + p.Msg
}

// Error lists every problem found by Load or Validate.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

type problems []Problem

func (ps *problems) add(pos Pos, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// LoadFile reads, decodes and validates the governance file at path.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	return Load(path, data)
}

// Load decodes a governance file from YAML (name is used in positions) and
// validates it. Every problem, decoding and validation, is reported at once
// in an *Error whose lines read "file:line:column: message", quoting the
// offending value. Durations are Go durations with a "d" (day) unit
// allowed ("10h", "40d"); times are RFC 3339 ("2014-11-21T22:00:00+08:00");
// dates YYYY-MM-DD.
func Load(name string, data []byte) (*File, error) {
	d := &decoder{file: name, pos: map[string]Pos{}}
	f := &File{Source: name, pos: d.pos}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.probs.add(Pos{File: name}, "the governance file is empty")
		} else {
			d.probs.add(yamlErrorPos(name, err))
		}
		return nil, d.probs.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	f.Pos = d.at(root)
	d.top(root, f)
	if err := d.probs.err(); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErrorPos(file string, err error) (Pos, string, any) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Pos{File: file, Line: line}, "YAML: %s", m[2]
	}
	return Pos{File: file}, "YAML: %s", strings.TrimPrefix(msg, "yaml: ")
}

type decoder struct {
	file  string
	probs problems
	pos   map[string]Pos
}

func (d *decoder) at(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Column: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.probs.add(d.at(n), format, args...)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "a document"
}

// fields decodes a mapping whose keys must be among known.
func (d *decoder) fields(n *yaml.Node, what, path string, known []string, set func(key string, v *yaml.Node, path string)) {
	n = resolve(n)
	d.pos[path] = d.at(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, "key %q is repeated in %s (first at line %d)", k.Value, what, line)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			d.errorf(k, "unknown key %q in %s (known keys: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		d.pos[p] = d.at(v)
		set(k.Value, v, p)
	}
}

func (d *decoder) list(n *yaml.Node, what, path string, each func(i int, v *yaml.Node, path string)) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, not %s", what, kindName(n))
		return
	}
	for i, v := range n.Content {
		v = resolve(v)
		p := fmt.Sprintf("%s[%d]", path, i)
		d.pos[p] = d.at(v)
		each(i, v, p)
	}
}

func (d *decoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not %s", what, kindName(n))
		return ""
	}
	if isNull(n) {
		return ""
	}
	return n.Value
}

func (d *decoder) strs(n *yaml.Node, what, path string) []string {
	var out []string
	d.list(n, what, path, func(_ int, v *yaml.Node, _ string) {
		if s := d.str(v, what); s != "" {
			out = append(out, s)
		}
	})
	return out
}

// stringMap decodes a mapping of strings to strings.
func (d *decoder) stringMap(n *yaml.Node, what string) map[string]string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if _, dup := m[k.Value]; dup {
			d.errorf(k, "key %q is repeated in %s", k.Value, what)
			continue
		}
		m[k.Value] = d.str(v, what)
	}
	return m
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	v := d.str(n, what)
	if v == "" {
		return false
	}
	if n.Tag != "!!bool" {
		d.errorf(n, "%s %q must be true or false", what, v)
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(v))
	return b
}

// fraction parses 0.25, "25%" or "2/3".
func (d *decoder) fraction(n *yaml.Node, what string) float64 {
	v := d.str(n, what)
	if v == "" {
		return 0
	}
	f, err := parseFraction(v)
	if err != nil {
		d.errorf(n, "%s %q is not a fraction in [0, 1] (want e.g. 0.25, \"25%%\" or \"2/3\")", what, v)
		return 0
	}
	return f
}

func parseFraction(s string) (float64, error) {
	var f float64
	var err error
	if a, b, ok := strings.Cut(s, "/"); ok {
		var x, y float64
		x, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err == nil {
			y, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
		}
		if err == nil && y == 0 {
			err = errors.New("zero denominator")
		}
		f = x / y
	} else if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err = strconv.ParseFloat(strings.TrimSpace(p), 64)
		f /= 100
	} else {
		f, err = strconv.ParseFloat(s, 64)
	}
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, errors.New("bad fraction")
	}
	return f, nil
}

func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	v := d.str(n, what)
	if v == "" {
		return 0
	}
	t, err := parseDuration(v)
	if err != nil {
		d.errorf(n, "%s %q is not a duration (want e.g. \"10h\", \"15d\")", what, v)
		return 0
	}
	return t
}

// parseDuration is time.ParseDuration with a "d" (24h) unit, alone or
// leading ("40d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, errors.New("bad days")
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	t, err := time.ParseDuration(s)
	if err != nil || t < 0 {
		return 0, errors.New("bad duration")
	}
	return days + t, nil
}

func (d *decoder) time(n *yaml.Node, what string) time.Time {
	v := d.str(n, what)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if day, derr := time.Parse(time.DateOnly, v); derr == nil {
			return day
		}
		d.errorf(n, "%s %q is not a time (want RFC 3339, e.g. \"2014-11-21T22:00:00+08:00\", or YYYY-MM-DD)", what, v)
		return time.Time{}
	}
	return t.UTC()
}

func (d *decoder) day(n *yaml.Node, what string) policylog.Day {
	v := d.str(n, what)
	if v == "" {
		return policylog.Day{}
	}
	day, err := policylog.ParseDay(v)
	if err != nil {
		d.errorf(n, "%s %q is not a date (want YYYY-MM-DD)", what, v)
	}
	return day
}

func (d *decoder) top(n *yaml.Node, f *File) {
	d.fields(n, "the governance file", "", []string{"name", "description", "sources", "actors", "blocs", "forums", "proposals"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "name":
				f.Name = d.str(v, "name")
			case "description":
				f.Description = d.str(v, "description")
			case "sources":
				f.Sources = d.strs(v, "sources", path)
			case "actors":
				d.list(v, "actors", path, func(_ int, v *yaml.Node, path string) { f.Actors = append(f.Actors, d.actor(v, path)) })
			case "blocs":
				d.list(v, "blocs", path, func(_ int, v *yaml.Node, path string) { f.Blocs = append(f.Blocs, d.bloc(v, path)) })
			case "forums":
				d.list(v, "forums", path, func(_ int, v *yaml.Node, path string) { f.Forums = append(f.Forums, d.forum(v, path)) })
			case "proposals":
				d.list(v, "proposals", path, func(_ int, v *yaml.Node, path string) { f.Proposals = append(f.Proposals, d.proposal(v, path)) })
			}
		})
}

func (d *decoder) actor(n *yaml.Node, path string) Actor {
	a := Actor{Pos: d.at(n)}
	d.fields(n, "actor", path, []string{"id", "name", "kind", "jurisdiction", "response-time"}, func(key string, v *yaml.Node, _ string) {
		switch key {
		case "id":
			a.ID = d.str(v, "id")
		case "name":
			a.Name = d.str(v, "name")
		case "kind":
			a.Kind = ActorKind(d.str(v, "kind"))
		case "jurisdiction":
			a.Jurisdiction = d.str(v, "jurisdiction")
		case "response-time":
			a.ResponseTime = d.duration(v, "response-time")
		}
	})
	return a
}

func (d *decoder) bloc(n *yaml.Node, path string) Bloc {
	b := Bloc{Pos: d.at(n)}
	d.fields(n, "bloc", path, []string{"id", "name", "members", "source"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "id":
			b.ID = d.str(v, "id")
		case "name":
			b.Name = d.str(v, "name")
		case "members":
			b.Members = d.strs(v, "members", path)
		case "source":
			b.Source = d.str(v, "source")
		}
	})
	return b
}

var forumKeys = []string{"id", "name", "model", "source", "scope", "authority", "members", "rule", "majority", "quorum",
	"min-comment", "houses", "advisory", "initiation-threshold", "issue-report", "consensus-max-opposition", "adopt-at",
	"supermajority", "supermajority-one-house"}

func (d *decoder) forum(n *yaml.Node, path string) Forum {
	f := Forum{Pos: d.at(n)}
	d.fields(n, "forum", path, forumKeys, func(key string, v *yaml.Node, path string) {
		switch key {
		case "id":
			f.ID = d.str(v, "id")
		case "name":
			f.Name = d.str(v, "name")
		case "model":
			f.Model = Model(d.str(v, "model"))
		case "source":
			f.Source = d.str(v, "source")
		case "scope":
			for _, s := range d.strs(v, "scope", path) {
				f.Scope = append(f.Scope, ChangeKind(s))
			}
		case "authority":
			f.Authority = d.str(v, "authority")
		case "members":
			f.Members = d.strs(v, "members", path)
		case "rule":
			f.Rule = DecisionRule(d.str(v, "rule"))
		case "majority":
			f.Majority = d.fraction(v, "majority")
		case "quorum":
			f.Quorum = d.fraction(v, "quorum")
		case "min-comment":
			f.MinComment = d.duration(v, "min-comment")
		case "houses":
			d.list(v, "houses", path, func(_ int, v *yaml.Node, path string) {
				var h House
				d.fields(v, "house", path, []string{"id", "members"}, func(key string, v *yaml.Node, path string) {
					if key == "id" {
						h.ID = d.str(v, "id")
					} else {
						h.Members = d.strs(v, "members", path)
					}
				})
				f.Houses = append(f.Houses, h)
			})
		case "advisory":
			f.Advisory = d.strs(v, "advisory", path)
		case "initiation-threshold":
			f.InitiationThreshold = d.fraction(v, "initiation-threshold")
		case "issue-report":
			f.IssueReport = d.duration(v, "issue-report")
		case "consensus-max-opposition":
			f.ConsensusMaxOpposition = d.fraction(v, "consensus-max-opposition")
		case "adopt-at":
			f.AdoptAt = Level(d.str(v, "adopt-at"))
		case "supermajority":
			f.Supermajority = d.fraction(v, "supermajority")
		case "supermajority-one-house":
			f.SupermajorityOneHouse = d.fraction(v, "supermajority-one-house")
		}
	})
	return f
}

func (d *decoder) proposal(n *yaml.Node, path string) Proposal {
	p := Proposal{Pos: d.at(n)}
	d.fields(n, "proposal", path, []string{"id", "title", "forum", "by", "filed", "comment", "effective", "change", "positions"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "id":
				p.ID = d.str(v, "id")
			case "title":
				p.Title = d.str(v, "title")
			case "forum":
				p.Forum = d.str(v, "forum")
			case "by":
				p.By = d.str(v, "by")
			case "filed":
				p.Filed = d.time(v, "filed")
			case "comment":
				d.fields(v, "comment window", path, []string{"opens", "closes"}, func(key string, v *yaml.Node, _ string) {
					if key == "opens" {
						p.CommentOpens = d.time(v, "opens")
					} else {
						p.CommentCloses = d.time(v, "closes")
					}
				})
			case "effective":
				p.Effective = d.day(v, "effective")
			case "change":
				p.Change = d.change(v, path)
			case "positions":
				d.list(v, "positions", path, func(_ int, v *yaml.Node, path string) {
					pos := Position{Pos: d.at(v)}
					d.fields(v, "position", path, []string{"actor", "stance", "objection", "addressed"}, func(key string, v *yaml.Node, _ string) {
						switch key {
						case "actor":
							pos.Actor = d.str(v, "actor")
						case "stance":
							pos.Stance = Stance(d.str(v, "stance"))
						case "objection":
							pos.Objection = d.str(v, "objection")
						case "addressed":
							pos.Addressed = d.boolean(v, "addressed")
						}
					})
					p.Positions = append(p.Positions, pos)
				})
			}
		})
	return p
}

func (d *decoder) change(n *yaml.Node, path string) Change {
	c := Change{Pos: d.at(n)}
	d.fields(n, "change", path, []string{"kind", "jurisdiction", "bloc", "signatories", "list", "lists", "add", "remove", "technique"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "kind":
				c.Kind = ChangeKind(d.str(v, "kind"))
			case "jurisdiction":
				c.Jurisdiction = d.str(v, "jurisdiction")
			case "bloc":
				c.Bloc = d.str(v, "bloc")
			case "signatories":
				c.Signatories = d.boolean(v, "signatories")
			case "list":
				c.List = d.str(v, "list")
			case "lists":
				c.Lists = d.stringMap(v, "lists")
			case "add":
				c.Add = d.strs(v, "add", path)
			case "remove":
				c.Remove = d.strs(v, "remove", path)
			case "technique":
				c.Technique = d.str(v, "technique")
			}
		})
	return c
}
