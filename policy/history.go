package policy

import (
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// History is one censor's policy over time: dated versions, the first
// written whole, each later one written as the changes it made to the
// version before it (rules added, removed or changed; lists, boxes and
// other settings set), each change citing its source and year. A version's
// Policy is the whole policy in force from its date until the next
// version's; before the first version the censor applied nothing that the
// history models.
//
// Rules are written once: a version that keeps a rule inherits it, and one
// that changes a rule sets only what changed (LoadHistory refuses a rule
// added with the behaviour of a rule written elsewhere in the history).
// Within a version, a rule's `active:` window still says when it is in
// force (an event of a few hours, a filter retired on a known day).
//
// The zero value is not usable; LoadHistory makes one.
type History struct {
	// Name names the censor's history ("CN"); a scenario's border names it
	// to follow the world's date.
	Name string
	// Meta is shared by every version (jurisdiction, authority, sources);
	// each version's policy carries it with its own Year and Effective.
	Meta Meta
	// Versions are in date order.
	Versions []*Version
	// Source is the file the history was read from.
	Source string
	// Pos is where the history document starts.
	Pos Pos
}

// Version is one dated state of a censor's policy.
type Version struct {
	// Name names the version ("CN-2019"), unique among every history's
	// versions; a scenario may name it to pin the border to it.
	Name string
	// From is the first day the version is in force (UTC).
	From Date
	// Summary says in one line what changed, for people.
	Summary string
	// Changes are what the version changed from the one before (none for
	// the first version), each citing its source.
	Changes []Change
	// Policy is the whole policy in force: its Name is the version's,
	// its Meta the history's with Year and Effective from From.
	Policy *Policy
	// Pos is where the version is written.
	Pos Pos
}

// ChangeKind says what a change did.
type ChangeKind string

// Change kinds.
const (
	// AddRule adds a rule (written whole, citing itself).
	AddRule ChangeKind = "add-rule"
	// RemoveRule removes a rule.
	RemoveRule ChangeKind = "remove-rule"
	// ChangeRule sets or deletes settings of a rule.
	ChangeRule ChangeKind = "change-rule"
	// SetPolicy sets or deletes settings of the policy: a list, a TCP box.
	SetPolicy ChangeKind = "set"
)

// Change is one cited change a version made.
type Change struct {
	Kind ChangeKind
	// Rule is the rule added, removed or changed ("" for SetPolicy).
	Rule string
	// Set are the paths set, Delete those deleted, as written
	// ("actions[1].residual.duration"; relative to the rule for
	// ChangeRule, to the policy for SetPolicy).
	Set, Delete []string
	// Description says what changed, for people ("" if not given).
	Description string
	// Source cites the measurement that found the change; Year is when.
	Source string
	Year   int
	// Pos is where the change is written.
	Pos Pos
}

// String describes the change in one line: what it did and its source.
func (c Change) String() string {
	var what string
	switch c.Kind {
	case AddRule:
		what = "adds rule " + c.Rule
	case RemoveRule:
		what = "removes rule " + c.Rule
	case ChangeRule:
		what = "changes rule " + c.Rule + " (" + strings.Join(append(append([]string{}, c.Set...), prefixAll("-", c.Delete)...), ", ") + ")"
	default:
		what = "sets " + strings.Join(append(append([]string{}, c.Set...), prefixAll("-", c.Delete)...), ", ")
	}
	if c.Description != "" {
		what += ": " + c.Description
	}
	return fmt.Sprintf("%s [%s, %d]", what, c.Source, c.Year)
}

func prefixAll(p string, ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p + s
	}
	return out
}

// At returns the version in force at t, or nil before the first version.
func (h *History) At(t time.Time) *Version {
	var v *Version
	for _, x := range h.Versions {
		if t.Before(x.From.Time()) {
			break
		}
		v = x
	}
	return v
}

// Version returns the named version, or nil.
func (h *History) Version(name string) *Version {
	for _, v := range h.Versions {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Latest is the last version.
func (h *History) Latest() *Version { return h.Versions[len(h.Versions)-1] }

// Edges returns the instants at which what the history enforces may change,
// in order: each version's date and each edge of a rule's active window
// (policy.Window.Edges) in any version.
func (h *History) Edges() []time.Time {
	var out []time.Time
	for _, v := range h.Versions {
		out = append(out, v.From.Time())
		for _, r := range v.Policy.Rules {
			out = append(out, r.Scope.Active.Edges()...)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// IsHistory reports whether data is a policy history document (a mapping
// with a versions: key) rather than a policy.
func IsHistory(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return false
	}
	return mappingKey(doc.Content[0], "versions") != nil
}

// LoadHistory decodes the YAML history data, read from a file called name,
// builds every version's policy, reads the list and body files they refer
// to from fsys relative to dir (once for a list that versions share), and
// validates each. If anything is wrong it returns nil and an *Error.
//
// The YAML form:
//
//	name: CN
//	meta: {jurisdiction: CN, authority: ..., sources: [...]}
//	versions:
//	  - version: CN-2010
//	    from: 2010-01-01
//	    summary: one line
//	    policy: {tcp: ..., lists: ..., rules: [...]}   # the first version only
//	  - version: CN-2019
//	    from: 2019-06-01
//	    summary: one line
//	    changes:
//	      - add-rule: {id: ..., source: ..., year: ..., ...}
//	      - remove-rule: cn-x
//	        source: "..."
//	        year: 2019
//	      - rule: cn-sni-mb-ra
//	        set: {actions[1].residual.duration: 60s}
//	        delete: [inspect.packets]
//	        source: "..."
//	        year: 2019
//	      - set: {tcp.boxes.esni: *tls, lists.quic-names: {...}}
//	        source: "..."
//	        year: 2020
//
// A path is keys joined by '.', with [N] for the N-th element of a
// sequence (N may be the length, to append) and, at the start of a
// policy-level path, rules[ID] for the rule of that id. Setting a path
// replaces the value there (creating missing mappings on the way);
// deleting removes it. A changed rule's year becomes the change's and its
// source gains the change's. Versions share the nodes they do not change:
// YAML anchors and aliases work across versions.
func LoadHistory(name string, data []byte, fsys fs.FS, dir string) (*History, error) {
	e := &Error{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e.Problems = append(e.Problems, yamlSyntaxProblem(name, err))
		return nil, e
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		e.add(Pos{File: name, Line: 1, Column: 1}, "", "a policy history must be a YAML mapping (name:, meta:, versions:)")
		return nil, e
	}
	hl := &historyLoader{file: name, fsys: fsys, dir: dir, e: e, h: &History{Source: name}}
	hl.load(doc.Content[0])
	if err := e.errOrNil(); err != nil {
		return nil, err
	}
	return hl.h, nil
}

type historyLoader struct {
	file string
	fsys fs.FS
	dir  string
	e    *Error
	h    *History
	// defs are the rules written in the history, with the version that
	// wrote them, for the repeated-rule check.
	defs []ruleDef
}

type ruleDef struct {
	rule    *Rule
	version string
}

func (hl *historyLoader) at(n *yaml.Node) Pos {
	return Pos{File: hl.file, Line: n.Line, Column: n.Column}
}

func (hl *historyLoader) errorf(n *yaml.Node, path, format string, args ...any) {
	hl.e.add(hl.at(n), path, format, args...)
}

func (hl *historyLoader) load(root *yaml.Node) {
	h := hl.h
	h.Pos = hl.at(root)
	var versions *yaml.Node
	d := &decoder{file: hl.file, pos: map[string]Pos{}, bad: map[string]bool{}, err: hl.e}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			if d.scalar(v, "name", "a string") {
				h.Name = v.Value
			}
		case "meta":
			d.decode(v, reflect.ValueOf(&h.Meta).Elem(), "meta")
		case "versions":
			versions = v
		default:
			hl.errorf(k, "", "unknown key %q%s", k.Value, suggest(k.Value, []string{"name", "meta", "versions"}))
		}
	}
	switch {
	case h.Name == "":
		hl.errorf(root, "name", "a history needs a name")
	case !idRE.MatchString(h.Name):
		hl.errorf(root, "name", "name %q: use letters, digits, '.', '_' and '-'", h.Name)
	}
	if versions == nil || versions.Kind != yaml.SequenceNode || len(versions.Content) == 0 {
		n := root
		if versions != nil {
			n = versions
		}
		hl.errorf(n, "versions", "a history needs a sequence of at least one version")
		return
	}
	var prev *yaml.Node // the previous version's policy document
	var prevPol *Policy
	seen := map[string]bool{}
	for i, vn := range versions.Content {
		path := "versions[" + strconv.Itoa(i) + "]"
		v, doc := hl.version(vn, path, i == 0, prev, d)
		if v == nil {
			return // the versions after it build on it
		}
		if seen[v.Name] {
			hl.errorf(vn, path+".version", "version %q is already defined", v.Name)
		}
		seen[v.Name] = true
		if len(h.Versions) > 0 && !v.From.Time().After(h.Latest().From.Time()) {
			hl.errorf(vn, path+".from", "version %s from %s is not after version %s (%s): list versions in date order", v.Name, v.From, h.Latest().Name, h.Latest().From)
		}
		v.Policy = hl.policy(v, doc, prev, prevPol)
		if v.Policy == nil {
			return
		}
		h.Versions = append(h.Versions, v)
		prev, prevPol = doc, v.Policy
	}
	hl.checkRepeats()
}

// version decodes one version entry and applies its changes to prev,
// returning the version (without its Policy) and its policy document.
func (hl *historyLoader) version(vn *yaml.Node, path string, first bool, prev *yaml.Node, d *decoder) (*Version, *yaml.Node) {
	if vn.Kind != yaml.MappingNode {
		hl.errorf(vn, path, "want a version (a mapping with version:, from:, summary: and policy: or changes:), got %s", describe(vn))
		return nil, nil
	}
	v := &Version{Pos: hl.at(vn)}
	var polNode, changes *yaml.Node
	for i := 0; i+1 < len(vn.Content); i += 2 {
		k, val := vn.Content[i], vn.Content[i+1]
		switch k.Value {
		case "version":
			if d.scalar(val, path+".version", "a string") {
				v.Name = val.Value
			}
		case "from":
			if d.scalar(val, path+".from", "a date") {
				if err := v.From.UnmarshalText([]byte(val.Value)); err != nil {
					hl.errorf(val, path+".from", "%v", err)
				}
			}
		case "summary":
			if d.scalar(val, path+".summary", "a string") {
				v.Summary = val.Value
			}
		case "policy":
			polNode = val
		case "changes":
			changes = val
		default:
			hl.errorf(k, path, "unknown key %q%s", k.Value, suggest(k.Value, []string{"version", "from", "summary", "policy", "changes"}))
		}
	}
	switch {
	case v.Name == "":
		hl.errorf(vn, path+".version", "a version needs a name (version: CN-2019)")
	case !idRE.MatchString(v.Name):
		hl.errorf(vn, path+".version", "version %q: use letters, digits, '.', '_' and '-'", v.Name)
	}
	if v.From.IsZero() {
		hl.errorf(vn, path+".from", "a version needs the date it took effect (from: YYYY-MM-DD)")
	}
	if strings.TrimSpace(v.Summary) == "" {
		hl.errorf(vn, path+".summary", "a version needs a summary of what changed")
	}
	if first {
		if changes != nil {
			hl.errorf(changes, path+".changes", "the first version is written whole (policy:), not as changes")
		}
		if polNode == nil || polNode.Kind != yaml.MappingNode {
			n := vn
			if polNode != nil {
				n = polNode
			}
			hl.errorf(n, path+".policy", "the first version needs its whole policy (policy: {tcp:, lists:, rules:})")
			return nil, nil
		}
		for i := 0; i+1 < len(polNode.Content); i += 2 {
			if k := polNode.Content[i]; k.Value == "name" || k.Value == "meta" {
				hl.errorf(k, path+".policy."+k.Value, "a version's %s comes from the history (its version: and the history's meta:)", k.Value)
			}
		}
		return v, polNode
	}
	if polNode != nil {
		hl.errorf(polNode, path+".policy", "only the first version is written whole; write what changed (changes:)")
	}
	if changes == nil || changes.Kind != yaml.SequenceNode || len(changes.Content) == 0 {
		n := vn
		if changes != nil {
			n = changes
		}
		hl.errorf(n, path+".changes", "a version after the first needs a sequence of at least one change")
		return nil, nil
	}
	doc := prev
	for i, cn := range changes.Content {
		var c *Change
		doc, c = hl.change(doc, cn, path+".changes["+strconv.Itoa(i)+"]", d)
		if c == nil {
			return nil, nil
		}
		v.Changes = append(v.Changes, *c)
	}
	return v, doc
}

var changeKeys = []string{"add-rule", "remove-rule", "rule", "set", "delete", "description", "source", "year"}

// change applies one change entry to doc and returns the new document.
func (hl *historyLoader) change(doc, cn *yaml.Node, path string, d *decoder) (*yaml.Node, *Change) {
	if cn.Kind != yaml.MappingNode {
		hl.errorf(cn, path, "want a change (add-rule:, remove-rule:, or rule: or set: with source: and year:), got %s", describe(cn))
		return nil, nil
	}
	c := &Change{Pos: hl.at(cn)}
	var add, set, del *yaml.Node
	for i := 0; i+1 < len(cn.Content); i += 2 {
		k, val := cn.Content[i], cn.Content[i+1]
		switch k.Value {
		case "add-rule":
			add = val
		case "remove-rule":
			if d.scalar(val, path+".remove-rule", "a rule id") {
				c.Kind, c.Rule = RemoveRule, val.Value
			}
		case "rule":
			if d.scalar(val, path+".rule", "a rule id") {
				c.Kind, c.Rule = ChangeRule, val.Value
			}
		case "set":
			set = val
		case "delete":
			del = val
		case "description":
			if d.scalar(val, path+".description", "a string") {
				c.Description = val.Value
			}
		case "source":
			if d.scalar(val, path+".source", "a string") {
				c.Source = val.Value
			}
		case "year":
			if d.scalar(val, path+".year", "a year") {
				y, err := strconv.Atoi(val.Value)
				if err != nil || y < 1990 || y > 2100 {
					hl.errorf(val, path+".year", "year %q is not plausible", val.Value)
				}
				c.Year = y
			}
		default:
			hl.errorf(k, path, "unknown key %q%s", k.Value, suggest(k.Value, changeKeys))
		}
	}
	kinds := 0
	for _, b := range []bool{add != nil, c.Kind == RemoveRule, c.Kind == ChangeRule} {
		if b {
			kinds++
		}
	}
	if kinds == 0 && (set != nil || del != nil) {
		c.Kind = SetPolicy
		kinds = 1
	}
	if kinds != 1 {
		hl.errorf(cn, path, "a change is one of add-rule:, remove-rule:, rule: (with set: or delete:) or set:/delete: on the policy")
		return nil, nil
	}
	rules := mappingKey(doc, "rules")
	switch {
	case add != nil:
		c.Kind = AddRule
		if set != nil || del != nil {
			hl.errorf(cn, path, "add-rule writes the rule whole: no set: or delete:")
		}
		if c.Source != "" || c.Year != 0 {
			hl.errorf(cn, path, "an added rule cites itself (its own source: and year:), not the change")
		}
		if add.Kind != yaml.MappingNode {
			hl.errorf(add, path+".add-rule", "want a rule (a mapping), got %s", describe(add))
			return nil, nil
		}
		id := mappingKey(add, "id")
		if id == nil || id.Kind != yaml.ScalarNode || id.Value == "" {
			hl.errorf(add, path+".add-rule.id", "an added rule needs an id")
			return nil, nil
		}
		c.Rule = id.Value
		if ruleIndex(rules, c.Rule) >= 0 {
			hl.errorf(id, path+".add-rule.id", "rule %q is already in force; change it (rule: %s, set: ...) instead", c.Rule, c.Rule)
			return nil, nil
		}
		if src := mappingKey(add, "source"); src != nil {
			c.Source = src.Value
		}
		if y := mappingKey(add, "year"); y != nil {
			c.Year, _ = strconv.Atoi(y.Value)
		}

		var seq *yaml.Node
		if rules == nil {
			seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		} else {
			seq = copyNode(resolve(rules))
		}
		seq.Content = append(seq.Content, add)
		return setKey(doc, "rules", seq), c
	case c.Kind == RemoveRule:
		if set != nil || del != nil {
			hl.errorf(cn, path, "remove-rule takes no set: or delete:")
		}
		if !hl.cited(cn, path, c) {
			return nil, nil
		}
		i := ruleIndex(rules, c.Rule)
		if i < 0 {
			hl.errorf(cn, path+".remove-rule", "no rule %q in force to remove%s", c.Rule, ruleHint(rules))
			return nil, nil
		}
		seq := copyNode(resolve(rules))
		seq.Content = slices.Delete(seq.Content, i, i+1)
		return setKey(doc, "rules", seq), c
	}
	if !hl.cited(cn, path, c) {
		return nil, nil
	}
	if set == nil && del == nil {
		hl.errorf(cn, path, "rule: %s needs set: or delete:", c.Rule)
		return nil, nil
	}
	target := doc
	ri := -1
	if c.Kind == ChangeRule {
		ri = ruleIndex(rules, c.Rule)
		if ri < 0 {
			hl.errorf(cn, path+".rule", "no rule %q in force to change%s", c.Rule, ruleHint(rules))
			return nil, nil
		}
		target = resolve(rules).Content[ri]
	}
	var err error
	if set != nil {
		if set.Kind != yaml.MappingNode || len(set.Content) == 0 {
			hl.errorf(set, path+".set", "want a mapping of paths to values, got %s", describe(set))
			return nil, nil
		}
		for i := 0; i+1 < len(set.Content); i += 2 {
			k, val := set.Content[i], set.Content[i+1]
			if target, err = setPath(target, k.Value, val, c.Kind == SetPolicy); err != nil {
				hl.errorf(k, path+".set", "%s: %v", k.Value, err)
				return nil, nil
			}
			c.Set = append(c.Set, k.Value)
		}
	}
	if del != nil {
		if del.Kind != yaml.SequenceNode || len(del.Content) == 0 {
			hl.errorf(del, path+".delete", "want a sequence of paths, got %s", describe(del))
			return nil, nil
		}
		for _, k := range del.Content {
			if target, err = setPath(target, k.Value, nil, c.Kind == SetPolicy); err != nil {
				hl.errorf(k, path+".delete", "%s: %v", k.Value, err)
				return nil, nil
			}
			c.Delete = append(c.Delete, k.Value)
		}
	}
	if c.Kind == SetPolicy {
		return target, c
	}
	// A changed rule: its year becomes the change's, its source gains the
	// change's (unless the change set them itself).
	if !slices.Contains(c.Set, "year") {
		target = setKey(target, "year", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(c.Year), Line: cn.Line, Column: cn.Column})
	}
	if !slices.Contains(c.Set, "source") {
		src := c.Source
		if old := mappingKey(target, "source"); old != nil && old.Value != "" && !strings.Contains(old.Value, c.Source) {
			src = old.Value + "; " + c.Source
		}
		target = setKey(target, "source", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: src, Line: cn.Line, Column: cn.Column})
	}
	seq := copyNode(resolve(rules))
	seq.Content[ri] = target
	return setKey(doc, "rules", seq), c
}

// cited reports a change without a source or a year.
func (hl *historyLoader) cited(n *yaml.Node, path string, c *Change) bool {
	ok := true
	if strings.TrimSpace(c.Source) == "" {
		hl.errorf(n, path+".source", "a change must cite its source (a paper or report)")
		ok = false
	}
	if c.Year == 0 {
		hl.errorf(n, path+".year", "a change must give the year it was observed")
		ok = false
	}
	return ok
}

// policy decodes, reads and validates the policy of version v from its
// document; lists whose node is the previous version's are shared with it
// (read and validated once).
func (hl *historyLoader) policy(v *Version, doc, prev *yaml.Node, prevPol *Policy) *Policy {
	root := copyNode(doc)
	root.Content = append([]*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.Name, Line: v.Pos.Line, Column: v.Pos.Column},
	}, root.Content...)
	p := &Policy{Source: hl.file, History: hl.h.Name, doc: root, pos: map[string]Pos{}, bad: map[string]bool{}}
	e := &Error{}
	p.decodeRoot(hl.file, root, e)
	p.Meta = hl.h.Meta
	p.Meta.Sources = slices.Clone(hl.h.Meta.Sources)
	p.Meta.Year = v.From.Time().Year()
	p.Meta.Effective = v.From
	if v.Summary != "" {
		p.Meta.Description = strings.TrimSpace(v.Summary)
	}
	if prevPol != nil {
		prevLists := mappingKey(prev, "lists")
		lists := mappingKey(doc, "lists")
		for name, l := range p.Lists {
			if pl := prevPol.Lists[name]; pl != nil && l != nil && pl.read && mappingKey(lists, name) == mappingKey(prevLists, name) {
				p.Lists[name] = pl
			}
		}
	}
	if hl.fsys != nil {
		p.readFiles(hl.fsys, hl.dir, e)
	}
	p.validate(e)
	if len(e.Problems) > 0 {
		for i := range e.Problems {
			e.Problems[i].Path = "version " + v.Name + ": " + e.Problems[i].Path
		}
		hl.e.Problems = append(hl.e.Problems, e.Problems...)
		return nil
	}
	for _, l := range p.Lists {
		if l.read {
			l.checked = true
		}
	}
	// The rules this version wrote (all of the first version's; the added
	// ones of a later version).
	written := map[string]bool{}
	if prevPol == nil {
		for _, r := range p.Rules {
			written[r.ID] = true
		}
	} else {
		for _, c := range v.Changes {
			if c.Kind == AddRule {
				written[c.Rule] = true
			}
		}
	}
	for i := range p.Rules {
		if written[p.Rules[i].ID] {
			hl.defs = append(hl.defs, ruleDef{&p.Rules[i], v.Name})
		}
	}
	return p
}

// checkRepeats reports a rule written with the behaviour (scope, inspect,
// matchers, actions) of a rule written elsewhere in the history: a copy
// where the version should inherit the rule, or change what changed.
func (hl *historyLoader) checkRepeats() {
	for i, a := range hl.defs {
		for _, b := range hl.defs[:i] {
			if sameBehaviour(a.rule, b.rule) {
				hl.e.add(a.rule.Pos, "", "rule %s (version %s) repeats rule %s (version %s, %s) verbatim: inherit that rule, or change what changed",
					a.rule.ID, a.version, b.rule.ID, b.version, b.rule.Pos)
			}
		}
	}
}

func sameBehaviour(a, b *Rule) bool {
	return reflect.DeepEqual(a.Scope, b.Scope) && reflect.DeepEqual(a.Inspect, b.Inspect) &&
		reflect.DeepEqual(a.Match, b.Match) && reflect.DeepEqual(a.Actions, b.Actions)
}

// RepeatedRules returns, for policies given as separate files (variants of
// one censor), the pairs of rules of different policies whose behaviour
// (scope, inspect, matchers, actions) is the same: the copies a history
// avoids. Each pair is "POLICY/RULE = POLICY/RULE".
func RepeatedRules(ps ...*Policy) []string {
	var out []string
	for i, p := range ps {
		for _, q := range ps[:i] {
			for a := range p.Rules {
				for b := range q.Rules {
					if sameBehaviour(&p.Rules[a], &q.Rules[b]) {
						out = append(out, p.Name+"/"+p.Rules[a].ID+" = "+q.Name+"/"+q.Rules[b].ID)
					}
				}
			}
		}
	}
	return out
}

// ruleIndex returns the index of the rule with the given id in the rules
// sequence, or -1.
func ruleIndex(rules *yaml.Node, id string) int {
	rules = resolve(rules)
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return -1
	}
	for i, r := range rules.Content {
		if idn := mappingKey(resolve(r), "id"); idn != nil && idn.Value == id {
			return i
		}
	}
	return -1
}

func ruleHint(rules *yaml.Node) string {
	rules = resolve(rules)
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return " (no rules)"
	}
	var ids []string
	for _, r := range rules.Content {
		if idn := mappingKey(resolve(r), "id"); idn != nil {
			ids = append(ids, idn.Value)
		}
	}
	return " (rules: " + strings.Join(ids, ", ") + ")"
}

// resolve follows an alias.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// copyNode returns a shallow copy of n (its own Content slice), so that a
// version can change it without changing the versions that share it.
func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = slices.Clone(n.Content)
	c.Anchor = ""
	return &c
}

// setKey returns a copy of mapping m with key set to val.
func setKey(m *yaml.Node, key string, val *yaml.Node) *yaml.Node {
	c := copyNode(resolve(m))
	for i := 0; i+1 < len(c.Content); i += 2 {
		if c.Content[i].Value == key {
			c.Content[i+1] = val
			return c
		}
	}
	c.Content = append(c.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: val.Line, Column: val.Column}, val)
	return c
}

// pathSeg is one step of a path: a mapping key, a sequence index, or a
// rule id (rules[ID]).
type pathSeg struct {
	key   string
	index int // -1 for a key
	id    string
}

func parsePath(p string) ([]pathSeg, error) {
	var segs []pathSeg
	rest := p
	for rest != "" {
		if rest[0] == '[' {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '['")
			}
			in := rest[1:end]
			if n, err := strconv.Atoi(in); err == nil && n >= 0 {
				segs = append(segs, pathSeg{index: n})
			} else if idRE.MatchString(in) {
				segs = append(segs, pathSeg{index: -1, id: in})
			} else {
				return nil, fmt.Errorf("%q is neither an index nor a rule id", in)
			}
			rest = strings.TrimPrefix(rest[end+1:], ".")
			continue
		}
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return nil, fmt.Errorf("empty key")
		}
		segs = append(segs, pathSeg{key: rest[:end], index: -1})
		rest = rest[end:]
		rest = strings.TrimPrefix(rest, ".")
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return segs, nil
}

// setPath returns a copy of n with the value at path replaced by val (nil
// deletes it). Missing mappings on the way are created; a sequence index may
// be the sequence's length (append). ids allows rules[ID] steps.
func setPath(n *yaml.Node, path string, val *yaml.Node, ids bool) (*yaml.Node, error) {
	segs, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	return setSegs(n, segs, val, ids)
}

func setSegs(n *yaml.Node, segs []pathSeg, val *yaml.Node, ids bool) (*yaml.Node, error) {
	n = resolve(n)
	s := segs[0]
	last := len(segs) == 1
	switch {
	case s.id != "":
		if !ids {
			return nil, fmt.Errorf("[%s]: a rule's paths are relative to the rule (rule: ID)", s.id)
		}
		if n == nil || n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("[%s]: not a sequence of rules", s.id)
		}
		i := ruleIndex(n, s.id)
		if i < 0 {
			return nil, fmt.Errorf("no rule %q", s.id)
		}
		s = pathSeg{index: i}
		fallthrough
	case s.index >= 0:
		if n == nil || n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("[%d]: not a sequence", s.index)
		}
		if s.index > len(n.Content) || (s.index == len(n.Content) && (!last || val == nil)) {
			return nil, fmt.Errorf("index %d out of range (the sequence has %d elements)", s.index, len(n.Content))
		}
		c := copyNode(n)
		switch {
		case last && val == nil:
			c.Content = slices.Delete(c.Content, s.index, s.index+1)
		case last && s.index == len(n.Content):
			c.Content = append(c.Content, val)
		case last:
			c.Content[s.index] = val
		default:
			sub, err := setSegs(c.Content[s.index], segs[1:], val, false)
			if err != nil {
				return nil, err
			}
			c.Content[s.index] = sub
		}
		return c, nil
	}
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a mapping", s.key)
	}
	c := copyNode(n)
	for i := 0; i+1 < len(c.Content); i += 2 {
		if c.Content[i].Value != s.key {
			continue
		}
		switch {
		case last && val == nil:
			c.Content = slices.Delete(c.Content, i, i+2)
		case last:
			c.Content[i+1] = val
		default:
			sub, err := setSegs(c.Content[i+1], segs[1:], val, s.key == "rules" && ids)
			if err != nil {
				return nil, err
			}
			c.Content[i+1] = sub
		}
		return c, nil
	}
	if val == nil {
		return nil, fmt.Errorf("no %q to delete", s.key)
	}
	v := val
	if !last {
		sub, err := setSegs(nil, segs[1:], val, false)
		if err != nil {
			return nil, err
		}
		v = sub
	}
	c.Content = append(c.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.key, Line: val.Line, Column: val.Column}, v)
	return c, nil
}

// Standalone returns a history version as a policy document of its own:
// its name, its meta and everything its changes made, as YAML that Load
// reads back to the same policy (list and body files named as the history
// names them). Tools that log or copy a version use it (a transparency
// log's bundle). It returns false for a policy read from its own file.
func (p *Policy) Standalone() ([]byte, bool) {
	if p.doc == nil {
		return nil, false
	}
	m := &p.Meta
	meta := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	add := func(k string, v *yaml.Node) {
		meta.Content = append(meta.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	for _, kv := range [][2]string{{"jurisdiction", m.Jurisdiction}, {"authority", m.Authority}, {"legal-basis", m.LegalBasis}} {
		if kv[1] != "" {
			add(kv[0], str(kv[1]))
		}
	}
	if m.Year != 0 {
		add("year", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(m.Year)})
	}
	if !m.Effective.IsZero() {
		add("effective", str(m.Effective.String()))
	}
	if m.Description != "" {
		add("description", str(m.Description))
	}
	if len(m.Sources) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, src := range m.Sources {
			seq.Content = append(seq.Content, str(src))
		}
		add("sources", seq)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	root.Content = append(root.Content, str("name"), str(p.Name), str("meta"), meta)
	doc := expand(p.doc)
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if k := doc.Content[i].Value; k != "name" && k != "meta" {
			root.Content = append(root.Content, doc.Content[i], doc.Content[i+1])
		}
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, false
	}
	enc.Close()
	return []byte("# " + p.Name + ", a version of the history " + p.History + " written as a policy of its own.\n" + b.String()), true
}

// expand returns a deep copy of n with every alias replaced by a copy of
// what it names, anchors and comments dropped: a subtree that stands alone.
func expand(n *yaml.Node) *yaml.Node {
	n = resolve(n)
	c := *n
	c.Anchor, c.HeadComment, c.LineComment, c.FootComment = "", "", "", ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = expand(k)
	}
	return &c
}
