package policy

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// LoadFile reads the policy file the user named at path and returns it
// validated (see Load). Its list and body files resolve inside its folder:
// relative paths that do not climb out of it, through no symbolic link that
// leads out of it. Every file must be a regular file within the size limit
// for input files (package internal/userfile: 64 MiB unless raised).
func LoadFile(file string) (*Policy, error) {
	data, err := userfile.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	dir, err := userfile.OpenDir(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer dir.Close()
	return Load(file, data, dir.FS(), ".")
}

// LoadFileIn reads the policy file ref that a file in folder dir names (a
// scenario's border policy) and returns it validated. ref must lie inside
// dir, as LoadFile's list files lie inside the policy's folder; the
// policy's own list and body files resolve inside its folder. Positions
// name the file as dir joined with ref.
func LoadFileIn(dir, ref string) (*Policy, error) {
	d, err := userfile.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer d.Close()
	data, err := d.ReadFile(ref)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	sub, err := d.Sub(path.Dir(filepath.ToSlash(ref)))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer sub.Close()
	return Load(filepath.Join(dir, ref), data, sub.FS(), ".")
}

// LoadHistoryFileIn reads the file ref that a file in folder dir names (a
// scenario's border policy) as LoadFileIn does, and returns what it holds:
// a policy, or a censor's history (a document with versions:, loaded with
// LoadHistory). Exactly one of the two is non-nil when err is nil.
func LoadHistoryFileIn(dir, ref string) (*Policy, *History, error) {
	d, err := userfile.OpenDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	defer d.Close()
	data, err := d.ReadFile(ref)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	sub, err := d.Sub(path.Dir(filepath.ToSlash(ref)))
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	defer sub.Close()
	name := filepath.Join(dir, ref)
	if IsHistory(data) {
		h, err := LoadHistory(name, data, sub.FS(), ".")
		return nil, h, err
	}
	p, err := Load(name, data, sub.FS(), ".")
	return p, nil, err
}

// Load decodes the YAML policy data, read from a file called name (used in
// positions), reads the list files and block-page bodies it refers to from
// fsys relative to dir (the policy file's directory within fsys; "." for
// its root), and validates the result. If anything is wrong it returns nil
// and an *Error listing every problem, decoding and validation together.
// fsys may be nil for a policy that refers to no files.
//
// The YAML form mirrors the Go types with kebab-case keys (the yaml struct
// tags). Unknown keys are errors. Durations are Go durations ("90s",
// "1m30s"); rates carry units ("150kbit"); dates are YYYY-MM-DD. Each
// matcher and action is a mapping with one key, its kind, whose value is
// the kind's config: `{tls-sni: {list: blocked}}`; a kind without
// parameters may be written as its bare name (`any`).
func Load(name string, data []byte, fsys fs.FS, dir string) (*Policy, error) {
	e := &Error{}
	p := &Policy{Source: name, pos: map[string]Pos{}, bad: map[string]bool{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e.Problems = append(e.Problems, yamlSyntaxProblem(name, err))
		return nil, e
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		e.add(Pos{File: name, Line: 1, Column: 1}, "", "empty policy")
		return nil, e
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		// Not quoted: a file that is not a policy at all (a key file, a
		// password file) should not have its first line printed.
		kind := "a single value"
		if root.Kind == yaml.SequenceNode {
			kind = "a sequence"
		}
		d := &decoder{file: name, pos: p.pos, bad: p.bad, err: e}
		d.errorf(root, "", "a policy file must be a YAML mapping (name:, meta:, lists:, rules:), not %s", kind)
		return nil, e
	}
	if mappingKey(root, "versions") != nil {
		e.add(Pos{File: name, Line: root.Line, Column: root.Column}, "",
			"this is a policy history (it has versions:): load it with LoadHistory, or name one of its versions")
		return nil, e
	}
	p.decodeRoot(name, root, e)
	if fsys != nil {
		p.readFiles(fsys, dir, e)
	}
	p.validate(e)
	if err := e.errOrNil(); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeRoot decodes a policy document's root mapping onto p, recording
// positions, and names its lists, rules and boxes.
func (p *Policy) decodeRoot(name string, root *yaml.Node, e *Error) {
	d := &decoder{file: name, pos: p.pos, bad: p.bad, err: e}
	p.Pos = d.at(root)
	d.decode(root, reflect.ValueOf(p).Elem(), "")
	for n, l := range p.Lists {
		if l == nil {
			continue
		}
		l.Name = n
		l.Pos = p.pos["lists."+n]
	}
	for i := range p.Rules {
		p.Rules[i].Pos = p.pos["rules["+strconv.Itoa(i)+"]"]
	}
	for n, b := range p.TCP.Boxes {
		if b != nil {
			b.Name = n
		}
	}
}

// mappingKey returns the value node of key in mapping n, or nil.
func mappingKey(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ReadFiles reads every list's sources and every block page's body file
// from fsys relative to dir, as Load does. Use it for policies built in Go
// that refer to files.
func (p *Policy) ReadFiles(fsys fs.FS, dir string) error {
	e := &Error{}
	p.readFiles(fsys, dir, e)
	return e.errOrNil()
}

func (p *Policy) readFiles(fsys fs.FS, dir string, e *Error) {
	for _, n := range slices.Sorted(mapKeys(p.Lists)) {
		if l := p.Lists[n]; l != nil {
			l.readSources(fsys, dir, p.Source, e, "lists."+n, p.posOf)
		}
	}
	p.files = p.files[:0]
	for _, n := range slices.Sorted(mapKeys(p.Lists)) {
		if l := p.Lists[n]; l != nil {
			for _, src := range l.From {
				if src.File != "" {
					p.files = append(p.files, path.Clean(src.File))
				}
			}
		}
	}
	for i := range p.Rules {
		read := func(name string) ([]byte, error) {
			if err := userfile.CheckRef(name); err != nil {
				return nil, err
			}
			p.files = append(p.files, path.Clean(name))
			b, err := fs.ReadFile(fsys, path.Join(dir, name))
			if err != nil {
				return nil, errors.New(fileReason(err))
			}
			return b, nil
		}
		for j, m := range p.Rules[i].Match {
			if fu, ok := m.(FileUser); ok {
				fu.ReadFiles(&Checker{p: p, path: fmt.Sprintf("rules[%d].match[%d].%s", i, j, m.Kind()), err: e}, read)
			}
		}
		for j, a := range p.Rules[i].Actions {
			if fu, ok := a.(FileUser); ok {
				fu.ReadFiles(&Checker{p: p, path: fmt.Sprintf("rules[%d].actions[%d].%s", i, j, a.Kind()), err: e}, read)
			}
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxProblem(name string, err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Pos: Pos{File: name, Line: line}, Msg: "yaml: " + m[2]}
	}
	return Problem{Pos: Pos{File: name}, Msg: msg}
}

// decoder decodes yaml.Nodes onto typed values by reflection, strictly,
// recording the position of every node by path and collecting problems.
type decoder struct {
	file string
	pos  map[string]Pos
	bad  map[string]bool
	err  *Error
}

func (d *decoder) at(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Column: n.Column} }

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.err.add(d.at(n), path, format, args...)
	d.bad[path] = true
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	matcherType   = reflect.TypeFor[Matcher]()
	actionType    = reflect.TypeFor[Action]()
	unmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		d.pos[path] = d.at(n)
	}
	t := v.Type()
	switch {
	case t == durationType:
		if !d.scalar(n, path, "a duration") {
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			if n.Value == "0" {
				dur, err = 0, nil
			} else {
				d.errorf(n, path, "%q is not a duration (want e.g. 90s, 1m30s, 150ms)", n.Value)
				return
			}
		}
		v.SetInt(int64(dur))
		return
	case reflect.PointerTo(t).Implements(unmarshalType):
		if !d.scalar(n, path, "a scalar") {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, path, "%v", err)
		}
		return
	case t == matcherType || t == actionType:
		d.decodeModule(n, v, path)
		return
	}

	switch t.Kind() {
	case reflect.Pointer:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.SetZero()
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.SetZero()
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "want a sequence, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String {
			d.errorf(n, path, "want a mapping, got %s", describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			if seen[k.Value] {
				d.errorf(k, kp, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			ev := reflect.New(t.Elem()).Elem()
			d.decode(val, ev, kp)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), ev)
		}
	case reflect.String:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			v.SetString("")
			return
		}
		if d.scalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if !d.scalar(n, path, "true or false") {
			return
		}
		switch n.Value {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.errorf(n, path, "%q is not true or false", n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !d.scalar(n, path, "an integer") {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits())
		if err != nil {
			d.errorf(n, path, "%q is not an integer (%d-bit)", n.Value, t.Bits())
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if !d.scalar(n, path, "an integer") {
			return
		}
		u, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits())
		if err != nil {
			d.errorf(n, path, "%q is not an integer in [0, %d]", n.Value, uint64(1)<<t.Bits()-1)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		if !d.scalar(n, path, "a number") {
			return
		}
		f, err := strconv.ParseFloat(n.Value, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, path, "%q is not a number", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.errorf(n, path, "policy: cannot decode into %s", t)
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "want %s, got %s", want, describe(n))
		return false
	}
	return true
}

type fieldInfo struct {
	index int
	name  string
}

func yamlFields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		out = append(out, fieldInfo{i, strings.Split(tag, ",")[0]})
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := joinPath(path, k.Value)
		idx := slices.IndexFunc(fields, func(f fieldInfo) bool { return f.name == k.Value })
		if idx < 0 {
			var names []string
			for _, f := range fields {
				names = append(names, f.name)
			}
			d.errorf(k, path, "unknown key %q%s", k.Value, suggest(k.Value, names))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, kp, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(fields[idx].index), kp)
	}
}

// decodeModule decodes one matcher or action: a mapping with a single key,
// the kind, whose value is the config; or a bare kind name.
func (d *decoder) decodeModule(n *yaml.Node, v reflect.Value, path string) {
	what, kinds := "matcher", MatcherKinds()
	if v.Type() == actionType {
		what, kinds = "action", ActionKinds()
	}
	var kindNode, cfgNode *yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		kindNode = n
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		kindNode, cfgNode = n.Content[0], n.Content[1]
	default:
		d.errorf(n, path, "want a %s: a mapping with one key, its kind (one of %s), got %s",
			what, strings.Join(kindNames(kinds), ", "), describe(n))
		return
	}
	kind := kindNode.Value
	var cfg any
	var ok bool
	if what == "matcher" {
		cfg, ok = NewMatcher(kind)
	} else {
		cfg, ok = NewAction(kind)
	}
	if !ok {
		if len(kinds) == 0 {
			d.errorf(kindNode, path, "unknown %s kind %q: no kinds are registered (the built-in kinds come with package border)", what, kind)
			return
		}
		d.errorf(kindNode, path, "unknown %s kind %q%s", what, kind, suggest(kind, kindNames(kinds)))
		return
	}
	kp := joinPath(path, kind)
	d.pos[kp] = d.at(kindNode)
	if cfgNode != nil {
		d.decode(cfgNode, reflect.ValueOf(cfg).Elem(), kp)
	}
	v.Set(reflect.ValueOf(cfg))
}

func hasNoFields(cfg any) bool {
	t := reflect.TypeOf(cfg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && len(yamlFields(t)) == 0
}

// suggest returns " (did you mean "x"?)" for the closest of names, or the
// list of names if none is close.
func suggest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if dd := editDistance(s, n); dd < bestD {
			best, bestD = n, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(names) == 0 {
		return ""
	}
	return " (want one of " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
