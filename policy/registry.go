package policy

import (
	"fmt"
	"slices"
	"sync"
)

// Matcher is the typed config of one matcher kind: what a rule looks at.
// Implementations are pointers to structs registered with RegisterMatcher;
// the engine type-switches on them. Configs are immutable once validated.
type Matcher interface {
	// Kind returns the name the kind is registered under ("tls-sni").
	Kind() string
	// Validate reports every problem with the config to c.
	Validate(c *Checker)
}

// Action is the typed config of one action kind: what a rule does.
// Implementations are pointers to structs registered with RegisterAction.
type Action interface {
	Kind() string
	Validate(c *Checker)
}

// KindInfo describes a registered matcher or action kind.
type KindInfo struct {
	// Name is the kind's name in YAML ("tls-sni").
	Name string
	// Doc is a one-paragraph description of the kind.
	Doc string
	// NoConfig is true for kinds without parameters ("any"), which may be
	// written as a bare name in YAML.
	NoConfig bool
}

type matcherKind struct {
	KindInfo
	new func() Matcher
}

type actionKind struct {
	KindInfo
	new func() Action
}

var registry struct {
	sync.RWMutex
	matchers map[string]matcherKind
	actions  map[string]actionKind
}

// RegisterMatcher registers a matcher kind. newConfig returns a fresh config
// holding the kind's defaults; the YAML adapter decodes onto it. It panics
// if the name is taken or newConfig's Kind disagrees with name.
func RegisterMatcher(name, doc string, newConfig func() Matcher) {
	if k := newConfig().Kind(); k != name {
		panic(fmt.Sprintf("policy: RegisterMatcher(%q): config reports kind %q", name, k))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.matchers == nil {
		registry.matchers = map[string]matcherKind{}
	}
	if _, dup := registry.matchers[name]; dup {
		panic(fmt.Sprintf("policy: matcher kind %q registered twice", name))
	}
	registry.matchers[name] = matcherKind{KindInfo{name, doc, hasNoFields(newConfig())}, newConfig}
}

// RegisterAction registers an action kind, as RegisterMatcher does.
func RegisterAction(name, doc string, newConfig func() Action) {
	if k := newConfig().Kind(); k != name {
		panic(fmt.Sprintf("policy: RegisterAction(%q): config reports kind %q", name, k))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.actions == nil {
		registry.actions = map[string]actionKind{}
	}
	if _, dup := registry.actions[name]; dup {
		panic(fmt.Sprintf("policy: action kind %q registered twice", name))
	}
	registry.actions[name] = actionKind{KindInfo{name, doc, hasNoFields(newConfig())}, newConfig}
}

// NewMatcher returns a new config of the named matcher kind holding its
// defaults, or false if no such kind is registered.
func NewMatcher(kind string) (Matcher, bool) {
	registry.RLock()
	k, ok := registry.matchers[kind]
	registry.RUnlock()
	if !ok {
		return nil, false
	}
	return k.new(), true
}

// NewAction returns a new config of the named action kind holding its
// defaults, or false if no such kind is registered.
func NewAction(kind string) (Action, bool) {
	registry.RLock()
	k, ok := registry.actions[kind]
	registry.RUnlock()
	if !ok {
		return nil, false
	}
	return k.new(), true
}

// MatcherKinds lists the registered matcher kinds, sorted by name.
func MatcherKinds() []KindInfo {
	registry.RLock()
	defer registry.RUnlock()
	var out []KindInfo
	for _, k := range registry.matchers {
		out = append(out, k.KindInfo)
	}
	slices.SortFunc(out, func(a, b KindInfo) int { return cmpString(a.Name, b.Name) })
	return out
}

// ActionKinds lists the registered action kinds, sorted by name.
func ActionKinds() []KindInfo {
	registry.RLock()
	defer registry.RUnlock()
	var out []KindInfo
	for _, k := range registry.actions {
		out = append(out, k.KindInfo)
	}
	slices.SortFunc(out, func(a, b KindInfo) int { return cmpString(a.Name, b.Name) })
	return out
}

func kindNames(ks []KindInfo) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
