package border

import "github.com/splinter-lab/splinter/policy"

// AnyMatch matches everything in the rule's scope. Its zero value is usable.
type AnyMatch struct{}

func init() {
	RegisterMatcher("any", "Matches everything in the rule's scope.",
		func() MatcherConfig { return &AnyMatch{} })
}

// Kind implements policy.Matcher.
func (*AnyMatch) Kind() string { return "any" }

// Validate implements policy.Matcher: there is nothing to check.
func (*AnyMatch) Validate(*policy.Checker) {}

// Compile implements MatcherConfig.
func (*AnyMatch) Compile(*Compiler) (Matcher, error) { return anyMatcher{}, nil }

type anyMatcher struct{}

func (anyMatcher) Traits() Traits           { return Traits{Layer: LayerIP, Header: true} }
func (anyMatcher) Match(*Inspection) Result { return Match }
