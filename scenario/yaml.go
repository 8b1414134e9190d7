package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// LoadFile reads and decodes the scenario file at path, which the user
// named: it must be a regular file within the size limit for input files
// (see package internal/userfile; 64 MiB unless raised). Like Load, it does
// not validate.
func LoadFile(path string) (*Scenario, error) {
	data, err := userfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Load(path, data)
}

// Load decodes a scenario from its YAML form (see README.md for the format).
// name is the file name that positions and Source carry. Load is only the
// adapter: it reports what cannot be decoded (YAML syntax, unknown or
// repeated keys, values of the wrong type or that do not parse) as an *Error
// listing every such problem, and leaves the rest to Validate. On error the
// returned scenario is nil.
func Load(name string, data []byte) (*Scenario, error) {
	// About one position per 16 bytes of YAML: sized once, the map does
	// not grow (and rehash) through a large scenario.
	d := &decoder{file: name, pos: make(map[string]Pos, len(data)/16)}
	s := &Scenario{Source: name, pos: d.pos}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.probs.add(Pos{File: name}, "the scenario is empty")
		} else {
			d.probs.add(yamlErrorPos(name, err))
		}
		return nil, d.probs.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.probs.add(d.at(&extra), "a scenario file holds one YAML document; found a second")
	} else if !errors.Is(err, io.EOF) {
		d.probs.add(yamlErrorPos(name, err))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	s.Pos = d.at(root)
	if r := resolve(root); r.Kind != yaml.MappingNode && !isNull(r) {
		// Not quoted: a file that is not a scenario at all (a key file, a
		// password file) should not have its first line printed.
		d.errorf(root, "a scenario file must be a YAML mapping (name:, jurisdictions:, sites:), not %s", kindWord(r))
		return nil, d.probs.err()
	}
	d.scenario(root, s)
	if err := d.probs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorPos turns a yaml.v3 syntax error into a position and a message.
func yamlErrorPos(file string, err error) (Pos, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Pos{File: file, Line: line}, "YAML: " + m[2]
	}
	return Pos{File: file}, "YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

// decoder walks a yaml.Node tree onto the canonical types, collecting
// problems and recording the position of every value it decodes.
type decoder struct {
	file  string
	probs problems
	pos   map[string]Pos
}

func (d *decoder) at(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.probs.add(d.at(n), fmt.Sprintf(format, args...))
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// fields decodes a mapping whose keys must be among known, calling set for
// each. Unknown and repeated keys are problems. A null node is an empty
// mapping. It records the mapping's own position under path.
// kindWord names a node's kind without its value.
func kindWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "a document of another kind"
}

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
	// Repeated keys are found by looking back over the keys before when
	// the mapping is small (one is decoded per site: no map to allocate),
	// with a map when it is not (a hostile file may hold a huge one).
	var seen map[string]int
	if len(n.Content) > 2*16 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		key := k.Value
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys of %s must be plain strings", what)
			continue
		}
		line, dup := 0, false
		if seen != nil {
			line, dup = seen[key]
			if !dup {
				seen[key] = k.Line
			}
		} else {
			line, dup = firstKey(n, i, key)
		}
		if dup {
			d.errorf(k, "key %q is repeated in %s (first at line %d)", key, what, line)
			continue
		}
		found := false
		for _, kn := range known {
			if kn == key {
				found = true
				break
			}
		}
		if !found {
			d.errorf(k, "unknown key %q in %s (known keys: %s)", key, what, strings.Join(known, ", "))
			continue
		}
		p := key
		if path != "" {
			p = path + "." + key
		}
		d.pos[p] = d.at(v)
		set(key, v, p)
	}
}

// firstKey returns the line of the first scalar key equal to key among the
// keys of mapping n before index i.
func firstKey(n *yaml.Node, i int, key string) (int, bool) {
	for j := 0; j < i; j += 2 {
		if k := resolve(n.Content[j]); k.Kind == yaml.ScalarNode && k.Value == key {
			return k.Line, true
		}
	}
	return 0, false
}

// list decodes a sequence, calling each for every element. A null node is an
// empty list.
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
		p := path + "[" + strconv.Itoa(i) + "]"
		d.pos[p] = d.at(v)
		each(i, v, p)
	}
}

func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not %s", what, kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, what string) string {
	v, _ := d.scalar(n, what)
	return v
}

// date reads a day (2022-06-01, midnight UTC) or an instant (RFC 3339).
func (d *decoder) date(n *yaml.Node, what string) time.Time {
	v, ok := d.scalar(n, what)
	if !ok {
		return time.Time{}
	}
	t, err := ParseDate(v)
	if err != nil {
		d.errorf(n, "%s %q is not a date (want YYYY-MM-DD, or an RFC 3339 time)", what, v)
	}
	return t
}

// ParseDate reads a day ("2022-06-01", midnight UTC) or an instant in RFC
// 3339 ("2025-08-20T00:34:00+08:00"), as a scenario's at: and the command
// line's --at take them.
func ParseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("scenario: %q is not a date (want YYYY-MM-DD, or an RFC 3339 time)", s)
	}
	return t.UTC(), nil
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	v, ok := d.scalar(n, what)
	if !ok {
		return false
	}
	if n.Tag != "!!bool" {
		d.errorf(n, "%s %q must be true or false", what, v)
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(v))
	return b
}

func (d *decoder) asn(n *yaml.Node, what string) uint32 {
	v, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	u, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32)
	if err != nil {
		d.errorf(n, "%s %q is not an AS number (want e.g. 4134 or AS4134)", what, v)
		return 0
	}
	return uint32(u)
}

func (d *decoder) duration(n *yaml.Node, what string) time.Duration {
	v, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	if v == "0" {
		return 0
	}
	t, err := time.ParseDuration(v)
	if err != nil {
		d.errorf(n, "%s %q is not a duration (want e.g. \"30ms\")", what, v)
		return 0
	}
	return t
}

func (d *decoder) bandwidth(n *yaml.Node, what string) int64 {
	v, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	bw, err := ParseBandwidth(v)
	if err != nil {
		d.errorf(n, "%s %q: %v", what, v, err)
		return 0
	}
	return bw
}

func (d *decoder) loss(n *yaml.Node, what string) float64 {
	v, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	l, err := parseLoss(v)
	if err != nil {
		d.errorf(n, "%s %q is not a probability (want e.g. 0.01 or \"1%%\")", what, v)
		return 0
	}
	return l
}

func (d *decoder) prefixes(n *yaml.Node, what, path string) []netip.Prefix {
	var ps []netip.Prefix
	d.list(n, what, path, func(_ int, v *yaml.Node, _ string) {
		s, ok := d.scalar(v, "a prefix")
		if !ok {
			return
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			d.errorf(v, "prefix %q does not parse (want e.g. 198.18.0.0/20 or \"2001:db8:86::/48\")", s)
			return
		}
		ps = append(ps, p)
	})
	return ps
}

func (d *decoder) addrs(n *yaml.Node, what, path string) []netip.Addr {
	var as []netip.Addr
	d.list(n, what, path, func(_ int, v *yaml.Node, _ string) {
		s, ok := d.scalar(v, "an address")
		if !ok {
			return
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errorf(v, "address %q does not parse (want e.g. 198.18.0.10 or \"2001:db8:86::10\")", s)
			return
		}
		as = append(as, a)
	})
	return as
}

func (d *decoder) scenario(n *yaml.Node, s *Scenario) {
	d.fields(n, "the scenario", "", []string{"name", "description", "backbone", "root_network", "jurisdictions", "sites", "at"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "name":
				s.Name = d.str(v, "name")
			case "description":
				s.Description = d.str(v, "description")
			case "at":
				s.At = d.date(v, "at")
			case "backbone":
				d.backbone(v, path, s)
			case "root_network":
				s.RootNetwork = d.str(v, "root_network")
			case "jurisdictions":
				d.list(v, "jurisdictions", path, func(_ int, v *yaml.Node, path string) {
					s.Jurisdictions = append(s.Jurisdictions, d.jurisdiction(v, path))
				})
			case "sites":
				d.list(v, "sites", path, func(_ int, v *yaml.Node, path string) {
					s.Sites = append(s.Sites, d.site(v, path))
				})
			}
		})
}

var linkKeys = []string{"delay", "jitter", "loss", "bandwidth", "hops"}

func (d *decoder) linkField(l *Link, key string, v *yaml.Node) {
	switch key {
	case "delay":
		l.Delay = d.duration(v, "delay")
	case "jitter":
		l.Jitter = d.duration(v, "jitter")
	case "loss":
		l.Loss = d.loss(v, "loss")
	case "bandwidth":
		l.Bandwidth = d.bandwidth(v, "bandwidth")
	case "hops":
		l.Hops = d.count(v, "hops")
	}
}

// count decodes a whole number (a count of hops). Its range is Validate's
// to check.
func (d *decoder) count(n *yaml.Node, what string) int {
	v, ok := d.scalar(n, what)
	if !ok {
		return 0
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n.Tag != "!!int" {
		d.errorf(n, "%s %q is not a whole number (want e.g. 6)", what, v)
		return 0
	}
	return int(i)
}

func (d *decoder) link(n *yaml.Node, what, path string) Link {
	var l Link
	d.fields(n, what, path, linkKeys, func(key string, v *yaml.Node, _ string) {
		d.linkField(&l, key, v)
	})
	return l
}

func (d *decoder) backbone(n *yaml.Node, path string, s *Scenario) {
	d.fields(n, "backbone", path, append([]string{"prefixes"}, linkKeys...), func(key string, v *yaml.Node, path string) {
		if key == "prefixes" {
			s.BackbonePrefixes = d.prefixes(v, "backbone prefixes", path)
			return
		}
		d.linkField(&s.Backbone, key, v)
	})
}

func (d *decoder) border(n *yaml.Node, path string) Border {
	var b Border
	d.fields(n, "border", path, []string{"policy", "link"}, func(key string, v *yaml.Node, path string) {
		switch key {
		case "policy":
			b.Policy = d.str(v, "policy")
		case "link":
			b.Link = d.link(v, "link", path)
		}
	})
	return b
}

func (d *decoder) jurisdiction(n *yaml.Node, path string) Jurisdiction {
	j := Jurisdiction{Pos: d.at(n)}
	d.fields(n, "jurisdiction", path, []string{"code", "name", "prefixes", "border", "public_resolver", "control", "networks"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "code":
				j.Code = d.str(v, "code")
			case "name":
				j.Name = d.str(v, "name")
			case "prefixes":
				j.Prefixes = d.prefixes(v, "prefixes", path)
			case "border":
				j.Border = d.border(v, path)
			case "public_resolver":
				j.PublicResolver = d.boolean(v, "public_resolver")
			case "control":
				j.Control = d.boolean(v, "control")
			case "networks":
				d.list(v, "networks", path, func(_ int, v *yaml.Node, path string) {
					j.Networks = append(j.Networks, d.network(v, path))
				})
			}
		})
	return j
}

func (d *decoder) network(n *yaml.Node, path string) Network {
	nw := Network{Pos: d.at(n)}
	d.fields(n, "network", path, []string{"name", "asn", "kind", "prefixes", "border", "hosts", "firewall"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "name":
				nw.Name = d.str(v, "name")
			case "asn":
				nw.ASN = d.asn(v, "asn")
			case "kind":
				nw.Kind = NetworkKind(d.str(v, "kind"))
			case "firewall":
				nw.Firewall = Firewall(d.str(v, "firewall"))
			case "prefixes":
				nw.Prefixes = d.prefixes(v, "prefixes", path)
			case "border":
				nw.Border = d.border(v, path)
			case "hosts":
				d.list(v, "hosts", path, func(_ int, v *yaml.Node, path string) {
					nw.Hosts = append(nw.Hosts, d.host(v, path))
				})
			}
		})
	return nw
}

func (d *decoder) host(n *yaml.Node, path string) Host {
	h := Host{Pos: d.at(n)}
	d.fields(n, "host", path, []string{"name", "role", "addrs", "link"},
		func(key string, v *yaml.Node, path string) {
			switch key {
			case "name":
				h.Name = d.str(v, "name")
			case "role":
				h.Role = Role(d.str(v, "role"))
			case "addrs":
				h.Addrs = d.addrs(v, "addrs", path)
			case "link":
				h.Link = d.link(v, "link", path)
			}
		})
	return h
}

func (d *decoder) site(n *yaml.Node, path string) Site {
	s := Site{Pos: d.at(n)}
	d.fields(n, "site", path, []string{"domain", "category", "network", "title", "body", "http3"},
		func(key string, v *yaml.Node, _ string) {
			switch key {
			case "domain":
				s.Domain = d.str(v, "domain")
			case "category":
				s.Category = d.str(v, "category")
			case "network":
				s.Network = d.str(v, "network")
			case "title":
				s.Title = d.str(v, "title")
			case "body":
				s.Body = d.str(v, "body")
			case "http3":
				s.HTTP3 = d.boolean(v, "http3")
			}
		})
	return s
}

// ParseBandwidth parses a rate in bits per second: a plain number ("1500000")
// or a number with one of the units bit, kbit, Mbit, Gbit, Tbit (decimal
// multiples, as tc(8) uses them; the letter case of the prefix is ignored).
// Byte rates ("bps", "MB/s") are refused as ambiguous.
func ParseBandwidth(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	var mult float64
	switch strings.ToLower(unit) {
	case "", "bit":
		mult = 1
	case "kbit":
		mult = 1e3
	case "mbit":
		mult = 1e6
	case "gbit":
		mult = 1e9
	case "tbit":
		mult = 1e12
	default:
		return 0, errors.New("not a bandwidth (want bits per second, e.g. \"150kbit\", \"10Mbit\", \"1Gbit\")")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errors.New("not a bandwidth (want bits per second, e.g. \"150kbit\", \"10Mbit\", \"1Gbit\")")
	}
	v := f * mult
	if v > math.MaxInt64/2 {
		return 0, errors.New("bandwidth too large")
	}
	return int64(math.Round(v)), nil
}

// parseLoss parses 0.01 or "1%".
func parseLoss(s string) (float64, error) {
	s = strings.TrimSpace(s)
	div := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, div = strings.TrimSpace(p), 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("bad loss")
	}
	return f / div, nil
}
