package policy

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/gaissmai/bart"
	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// Compiled is a list compiled into the structure its kind is matched with.
// Exactly one of the set fields is non-nil, per Kind. A Compiled is
// immutable and safe for concurrent use; its lookups do not allocate
// except where a set's doc says so.
type Compiled struct {
	Name string
	Kind ListKind

	Domains  *DomainSet
	Regexes  *RegexSet
	Keywords *KeywordSet
	Prefixes *PrefixSet
	Ports    *PortSet
}

// Compile builds the list's fast structure from its Items (read From files
// first: Load does). Items must be valid for the kind (Validate checks).
func (l *List) Compile() (*Compiled, error) {
	// A list the versions of a history share is compiled once for them
	// all (it is immutable once loaded: LoadHistory).
	l.compileMu.Lock()
	defer l.compileMu.Unlock()
	if l.checked && l.compiled != nil && l.compiledN == len(l.Items) {
		return l.compiled, nil
	}
	c, err := l.compile()
	if err == nil && l.checked {
		l.compiled, l.compiledN = c, len(l.Items)
	}
	return c, err
}

func (l *List) compile() (*Compiled, error) {
	c := &Compiled{Name: l.Name, Kind: l.Kind}
	var err error
	switch l.Kind {
	case Domains:
		c.Domains, err = NewDomainSet(l.Items)
	case Regexes:
		c.Regexes, err = NewRegexSet(l.Items)
	case Keywords:
		c.Keywords, err = NewKeywordSet(l.Items)
	case Prefixes:
		var ps []netip.Prefix
		for _, it := range l.Items {
			p, perr := parsePrefixItem(it)
			if perr != nil {
				return nil, fmt.Errorf("policy: list %q: %w", l.Name, perr)
			}
			ps = append(ps, p)
		}
		c.Prefixes = NewPrefixSet(ps)
	case Ports:
		var rs []PortRange
		for _, it := range l.Items {
			r, perr := ParsePortRange(it)
			if perr != nil {
				return nil, fmt.Errorf("policy: list %q: %w", l.Name, perr)
			}
			rs = append(rs, r)
		}
		c.Ports = NewPortSet(rs)
	default:
		return nil, fmt.Errorf("policy: list %q: unknown kind %q", l.Name, l.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("policy: list %q: %w", l.Name, err)
	}
	return c, nil
}

// CompileLists compiles every list of the policy, keyed by name.
func (p *Policy) CompileLists() (map[string]*Compiled, error) {
	out := make(map[string]*Compiled, len(p.Lists))
	for n, l := range p.Lists {
		c, err := l.Compile()
		if err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, nil
}

// MatchDomain matches a DNS name (any case, with or without the final dot)
// in mode (ModeFor the list's kind when ""): a domains list exactly or by
// suffix, a regexes list by regex, a keywords list by substring. It returns
// the item that matched. A mode that does not fit the list never matches.
func (c *Compiled) MatchDomain(name []byte, mode DomainMode) (string, bool) {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	switch m := ModeFor(mode, c.Kind); {
	case c.Domains != nil && m == Exact:
		return c.Domains.MatchExact(name)
	case c.Domains != nil && m == Suffix:
		return c.Domains.MatchSuffix(name)
	case c.Regexes != nil && m == Regex:
		return c.Regexes.Match(name)
	case c.Keywords != nil && m == Substring:
		return c.Keywords.Match(name)
	}
	return "", false
}

// MatchText searches text (a request path, a whole request head) with a
// keywords or regexes list and returns the item that matched.
func (c *Compiled) MatchText(text []byte) (string, bool) {
	switch {
	case c.Keywords != nil:
		return c.Keywords.Match(text)
	case c.Regexes != nil:
		return c.Regexes.Match(text)
	}
	return "", false
}

// MatchAddr returns the longest prefix of a prefixes list holding a.
func (c *Compiled) MatchAddr(a netip.Addr) (netip.Prefix, bool) {
	if c.Prefixes == nil {
		return netip.Prefix{}, false
	}
	return c.Prefixes.Match(a)
}

// MatchPort returns the range of a ports list holding p.
func (c *Compiled) MatchPort(p uint16) (PortRange, bool) {
	if c.Ports == nil {
		return PortRange{}, false
	}
	return c.Ports.Match(p)
}

// DomainSet is a set of DNS names matched exactly or by suffix,
// ASCII-case-insensitively. An item "*.example.com" matches only names
// under example.com, in either mode. Lookups walk the name's label
// suffixes and allocate nothing.
//
// It holds no pointers the garbage collector must trace: names live in one
// byte arena, the index maps 64-bit hashes to entry numbers. A million-name
// list then costs a GC cycle nothing, where a map of strings would make
// every cycle scan a million pointers (and slow everything else in the
// process down).
type DomainSet struct {
	seed     maphash.Seed
	arena    []byte            // every key and item, back to back
	entries  []domainEntry     // entries[i-1] for index value i
	index    map[uint64]uint32 // hash of a key -> first entry with that hash
	wildcard bool              // some item is "*.name"
}

type domainEntry struct {
	key, self, sub span   // self and sub are the items as written (zero if absent)
	next           uint32 // next entry with the same hash, 0 for none
}

type span struct{ off, n uint32 }

// NewDomainSet builds a set from names (see checkDomain for the syntax).
func NewDomainSet(names []string) (*DomainSet, error) {
	s := &DomainSet{seed: maphash.MakeSeed(), index: make(map[uint64]uint32, len(names))}
	put := func(b string) span {
		sp := span{uint32(len(s.arena)), uint32(len(b))}
		s.arena = append(s.arena, b...)
		return sp
	}
	for _, n := range names {
		if err := checkDomain(n); err != nil {
			return nil, err
		}
		key, isSub := strings.CutPrefix(n, "*.")
		key = strings.ToLower(strings.TrimSuffix(key, "."))
		e := s.find([]byte(key))
		if e == nil {
			s.entries = append(s.entries, domainEntry{key: put(key)})
			idx := uint32(len(s.entries))
			h := maphash.String(s.seed, key)
			s.entries[idx-1].next = s.index[h]
			s.index[h] = idx
			e = &s.entries[idx-1]
		}
		if isSub {
			e.sub = put(n)
			s.wildcard = true
		} else {
			e.self = put(n)
		}
	}
	return s, nil
}

// find returns the entry for a lower-case key, or nil.
func (s *DomainSet) find(key []byte) *domainEntry {
	if len(s.entries) == 0 {
		return nil // the zero value, an empty set
	}
	for i := s.index[maphash.Bytes(s.seed, key)]; i != 0; {
		e := &s.entries[i-1]
		if string(s.arena[e.key.off:e.key.off+e.key.n]) == string(key) {
			return e
		}
		i = e.next
	}
	return nil
}

// str returns an item of the arena without copying it: the arena is never
// written after NewDomainSet.
func (s *DomainSet) str(sp span) string {
	if sp.n == 0 {
		return ""
	}
	return unsafe.String(&s.arena[sp.off], int(sp.n))
}

// Len returns the number of distinct names.
func (s *DomainSet) Len() int { return len(s.entries) }

// lower copies name into buf in lower case; ok is false if it is too long
// to be a DNS name.
func lower(buf *[256]byte, name []byte) ([]byte, bool) {
	if len(name) > len(buf) {
		return nil, false
	}
	for i, b := range name {
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	return buf[:len(name)], true
}

// MatchExact reports whether name is in the set (or under a "*." item) and
// returns the item.
func (s *DomainSet) MatchExact(name []byte) (string, bool) {
	var buf [256]byte
	n, ok := lower(&buf, name)
	if !ok || s == nil {
		return "", false
	}
	if e := s.find(n); e != nil && e.self.n != 0 {
		return s.str(e.self), true
	}
	if !s.wildcard {
		return "", false
	}
	for i := 0; i < len(n); i++ {
		if n[i] == '.' {
			if e := s.find(n[i+1:]); e != nil && e.sub.n != 0 {
				return s.str(e.sub), true
			}
		}
	}
	return "", false
}

// MatchSuffix reports whether name is in the set or is a subdomain of a
// name in it, and returns the most specific item that matched.
func (s *DomainSet) MatchSuffix(name []byte) (string, bool) {
	var buf [256]byte
	n, ok := lower(&buf, name)
	if !ok || s == nil {
		return "", false
	}
	if e := s.find(n); e != nil && e.self.n != 0 {
		return s.str(e.self), true
	}
	for i := 0; i < len(n); i++ {
		if n[i] == '.' {
			if e := s.find(n[i+1:]); e != nil {
				if e.self.n != 0 {
					return s.str(e.self), true
				}
				return s.str(e.sub), true
			}
		}
	}
	return "", false
}

// RegexSet is a set of Go (RE2) regular expressions matched
// case-insensitively. The expressions are combined into alternations of up
// to regexChunk at a time, so a text is scanned once per chunk; the
// individual expression that matched is then found within the chunk. The
// zero value is an empty set.
type RegexSet struct {
	exprs  []string
	each   []*regexp.Regexp
	chunks []*regexp.Regexp
	// Expressions of the anchored forms `(^|\.)name$` and `^name$` with a
	// literal name (most of the GFW's DNS list) are looked up in these
	// domain sets instead; index maps the set's item to the expression.
	suffix, exact *DomainSet
	index         map[string]string
}

const regexChunk = 64

// NewRegexSet compiles exprs.
func NewRegexSet(exprs []string) (*RegexSet, error) {
	s := &RegexSet{exprs: exprs, index: map[string]string{}}
	var rest, suffix, exact []string
	for _, e := range exprs {
		re, err := regexp.Compile("(?i:" + e + ")")
		if err != nil {
			return nil, fmt.Errorf("bad regex %#q: %v", e, regexpReason(err))
		}
		if name, ok := literalName(e, `(^|\.)`); ok {
			suffix = append(suffix, name)
			s.index["s:"+name] = e
			continue
		}
		if name, ok := literalName(e, `^`); ok {
			exact = append(exact, name)
			s.index["e:"+name] = e
			continue
		}
		s.each = append(s.each, re)
		rest = append(rest, e)
	}
	s.suffix, _ = NewDomainSet(suffix)
	s.exact, _ = NewDomainSet(exact)
	for i := 0; i < len(rest); i += regexChunk {
		part := rest[i:min(i+regexChunk, len(rest))]
		alt := "(?i:(?:" + strings.Join(part, ")|(?:") + "))"
		re, err := regexp.Compile(alt)
		if err != nil {
			return nil, fmt.Errorf("combining regexes: %v", err)
		}
		s.chunks = append(s.chunks, re)
	}
	return s, nil
}

// Len returns the number of expressions.
func (s *RegexSet) Len() int { return len(s.exprs) }

// Match returns an expression that matches b: one of the anchored literal
// names if any matches, else the first other expression in list order.
func (s *RegexSet) Match(b []byte) (string, bool) {
	if s == nil {
		return "", false
	}
	if len(b) < 256 && !bytes.ContainsAny(b, "\n\r") {
		if n, ok := s.suffix.MatchSuffix(b); ok {
			return s.index["s:"+n], true
		}
		if n, ok := s.exact.MatchExact(b); ok {
			return s.index["e:"+n], true
		}
	}
	for ci, chunk := range s.chunks {
		if !chunk.Match(b) {
			continue
		}
		for i := ci * regexChunk; i < min((ci+1)*regexChunk, len(s.each)); i++ {
			if s.each[i].Match(b) {
				return s.rest(i), true
			}
		}
	}
	return "", false
}

// rest returns the source of s.each[i].
func (s *RegexSet) rest(i int) string {
	src := s.each[i].String()
	return src[len("(?i:") : len(src)-1]
}

// literalName reports whether e is prefix, a literal DNS name with escaped
// dots, and "$", and returns the name.
func literalName(e, prefix string) (string, bool) {
	body, ok := strings.CutPrefix(e, prefix)
	if !ok {
		return "", false
	}
	if body, ok = strings.CutSuffix(body, "$"); !ok {
		return "", false
	}
	name := strings.ReplaceAll(body, `\.`, ".")
	if strings.ContainsAny(name, `\*`) || checkDomain(name) != nil || strings.HasPrefix(name, "*.") {
		return "", false
	}
	return name, true
}

// KeywordSet finds any of a set of keywords anywhere in a text,
// ASCII-case-insensitively, with an Aho-Corasick automaton (a DFA). A
// lookup allocates a small iterator (2 allocations). The zero value is an
// empty set.
type KeywordSet struct {
	words []string
	ac    ahocorasick.AhoCorasick
}

// NewKeywordSet builds the automaton.
func NewKeywordSet(words []string) (*KeywordSet, error) {
	for _, w := range words {
		if w == "" {
			return nil, fmt.Errorf("empty keyword")
		}
	}
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		AsciiCaseInsensitive: true,
		MatchKind:            ahocorasick.StandardMatch,
		DFA:                  true,
	})
	return &KeywordSet{words: slices.Clone(words), ac: b.Build(words)}, nil
}

// Len returns the number of keywords.
func (s *KeywordSet) Len() int { return len(s.words) }

// Match returns the keyword that occurs first (earliest end) in text.
func (s *KeywordSet) Match(text []byte) (string, bool) {
	if s == nil || len(s.words) == 0 {
		return "", false
	}
	m := s.ac.IterByte(text).Next()
	if m == nil {
		return "", false
	}
	return s.words[m.Pattern()], true
}

// PrefixSet is a set of IPv4 and IPv6 prefixes with longest-prefix-match
// lookups on a BART routing table. IPv4-mapped IPv6 addresses are matched as
// IPv4. The zero value is an empty set.
type PrefixSet struct {
	t bart.Table[netip.Prefix]
}

// NewPrefixSet builds the set; prefixes are masked.
func NewPrefixSet(prefixes []netip.Prefix) *PrefixSet {
	s := &PrefixSet{}
	for _, p := range prefixes {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		p = p.Masked()
		s.t.Insert(p, p)
	}
	return s
}

// Len returns the number of prefixes.
func (s *PrefixSet) Len() int { return s.t.Size() }

// Match returns the longest prefix holding a.
func (s *PrefixSet) Match(a netip.Addr) (netip.Prefix, bool) {
	if s == nil {
		return netip.Prefix{}, false
	}
	return s.t.Lookup(a.Unmap())
}

// PortSet is a set of port ranges, merged and searched by bisection. The
// zero value is an empty set.
type PortSet struct {
	r []PortRange // sorted, disjoint, non-adjacent
}

// NewPortSet builds the set, merging overlapping and adjacent ranges.
func NewPortSet(ranges []PortRange) *PortSet {
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b PortRange) int { return int(a.Lo) - int(b.Lo) })
	var out []PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && int(r.Lo) <= int(out[n-1].Hi)+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return &PortSet{out}
}

// Ranges returns the merged ranges.
func (s *PortSet) Ranges() []PortRange { return slices.Clone(s.r) }

// Match returns the (merged) range holding p.
func (s *PortSet) Match(p uint16) (PortRange, bool) {
	if s == nil {
		return PortRange{}, false
	}
	i, _ := slices.BinarySearchFunc(s.r, p, func(r PortRange, p uint16) int {
		switch {
		case r.Hi < p:
			return -1
		case r.Lo > p:
			return 1
		}
		return 0
	})
	if i < len(s.r) && s.r[i].Contains(p) {
		return s.r[i], true
	}
	return PortRange{}, false
}
