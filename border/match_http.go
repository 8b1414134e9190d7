package border

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// HTTPField is a part of an HTTP request a matcher looks at.
type HTTPField string

// HTTP fields.
const (
	// HTTPHost is the Host header, matched as a name (Mode).
	HTTPHost HTTPField = "host"
	// HTTPPath is the request-target of the request line, matched as text.
	HTTPPath HTTPField = "path"
	// HTTPRequest is the whole request head, matched as text (keywords
	// anywhere).
	HTTPRequest HTTPField = "request"
)

// HTTPMatch matches an HTTP/1.x request. Each field in Fields is compared
// with List: the host as a name (Mode), path and request as text (a
// keywords or regexes list). The zero value (with a list) looks at the host.
type HTTPMatch struct {
	List   string            `yaml:"list"`
	Mode   policy.DomainMode `yaml:"mode"`
	Fields []HTTPField       `yaml:"fields"`
	// Conditional lists apply only when the request contains a trigger
	// word (the GFW's longer list when a request contains "search").
	Conditional []ConditionalList `yaml:"conditional"`
	// StrictRequestLine matches only requests with a known method, exactly
	// three request-line elements and a valid HTTP version (a corrupted
	// version or an extra element evades the GFW).
	StrictRequestLine bool `yaml:"strict-request-line"`
}

// ConditionalList is a list that applies when a request contains When.
type ConditionalList struct {
	When string `yaml:"when"`
	List string `yaml:"list"`
}

func init() {
	RegisterMatcher("http", "HTTP request Host, path or whole head against a list, with conditional lists.",
		func() MatcherConfig { return &HTTPMatch{} })
}

// Kind implements policy.Matcher.
func (*HTTPMatch) Kind() string { return "http" }

// FieldsOrDefault returns Fields, or [host] if empty.
func (m *HTTPMatch) FieldsOrDefault() []HTTPField {
	if len(m.Fields) == 0 {
		return []HTTPField{HTTPHost}
	}
	return m.Fields
}

// Validate implements policy.Matcher.
func (m *HTTPMatch) Validate(c *policy.Checker) {
	if m.List == "" && len(m.Conditional) == 0 {
		c.Errorf("list", "http needs a list or conditional lists")
	}
	hostOnly := true
	for i, f := range m.FieldsOrDefault() {
		policy.OneOf(c, "fields["+strconv.Itoa(i)+"]", f, false, HTTPHost, HTTPPath, HTTPRequest)
		hostOnly = hostOnly && f == HTTPHost
	}
	check := func(field, name string, required bool) {
		if hostOnly {
			c.NameList(field, name, required, m.Mode)
			return
		}
		if l := c.List(field, name, required, policy.Keywords, policy.Regexes); l != nil && m.Mode != "" {
			c.Errorf("mode", "mode applies only to the host field")
		}
	}
	check("list", m.List, false)
	for i, cl := range m.Conditional {
		f := "conditional[" + strconv.Itoa(i) + "]"
		if cl.When == "" {
			c.Errorf(f+".when", "a conditional list needs a trigger word")
		}
		check(f+".list", cl.List, true)
	}
}

// Compile implements MatcherConfig.
func (m *HTTPMatch) Compile(c *Compiler) (Matcher, error) {
	hm := &httpMatcher{cfg: m, fields: m.FieldsOrDefault()}
	var err error
	if hm.list, err = c.List(m.List); err != nil {
		return nil, err
	}
	for _, cl := range m.Conditional {
		l, err := c.List(cl.List)
		if err != nil {
			return nil, err
		}
		hm.cond = append(hm.cond, condList{when: bytes.ToLower([]byte(cl.When)), list: l})
	}
	return hm, nil
}

type condList struct {
	when []byte
	list *policy.Compiled
}

type httpMatcher struct {
	cfg    *HTTPMatch
	fields []HTTPField
	list   *policy.Compiled
	cond   []condList
}

func (*httpMatcher) Traits() Traits { return Traits{Layer: LayerHTTP, Protocols: OnlyTCP} }

func (hm *httpMatcher) Match(in *Inspection) Result {
	r := &in.sc.req
	err := dissect.ParseRequestHead(in.data, r)
	if errors.Is(err, dissect.ErrIncomplete) {
		return NeedMore
	}
	if err != nil {
		if hm.cfg.StrictRequestLine || !errors.Is(err, dissect.ErrNotHTTP) {
			return NoMatch
		}
	}
	head := in.data
	if r.Complete && r.HeadLength <= len(head) {
		head = head[:r.HeadLength]
	}
	if hm.list != nil && hm.check(in, r, head, hm.list) {
		return Match
	}
	for _, c := range hm.cond {
		if bytes.Contains(bytes.ToLower(head), c.when) && hm.check(in, r, head, c.list) {
			in.Evidence(EvidenceCondition, string(c.when))
			return Match
		}
	}
	return NoMatch
}

// check compares the matcher's fields of the request with l.
func (hm *httpMatcher) check(in *Inspection, r *dissect.RequestHead, head []byte, l *policy.Compiled) bool {
	for _, f := range hm.fields {
		switch f {
		case HTTPHost:
			host := r.Host()
			if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host, ']') < i {
				host = host[:i]
			}
			if item, ok := l.MatchDomain(host, hm.cfg.Mode); ok && len(host) > 0 {
				in.Evidence(EvidenceHost, string(bytes.ToLower(host)))
				in.Evidence(EvidenceListItem, item)
				return true
			}
		case HTTPPath:
			if item, ok := l.MatchText(r.Target()); ok {
				in.Evidence(EvidenceKeyword, item)
				return true
			}
		case HTTPRequest:
			if item, ok := l.MatchText(head); ok {
				in.Evidence(EvidenceKeyword, item)
				return true
			}
		}
	}
	return false
}

// OpensRequest implements RequestOpener: an HTTP request line, even
// incomplete.
func (*httpMatcher) OpensRequest(data []byte) bool {
	var h dissect.RequestHead
	return !errors.Is(dissect.ParseRequestHead(data, &h), dissect.ErrNotHTTP)
}
