package governance

import (
	"fmt"
	"io"
	"strings"

	"github.com/splinter-lab/splinter/policylog"
)

// Entries are the log entries that record the outcome: every step, then
// the outcome itself (decision, rule, consensus level). The policy
// versions an adopted proposal produces are appended by whoever applies
// the Changes, with Cause set to the proposal.
func (o *Outcome) Entries() []policylog.Entry {
	var out []policylog.Entry
	rec := func(g policylog.Governance) {
		g.Proposal, g.Forum = o.Proposal, o.Forum
		out = append(out, policylog.Entry{Type: policylog.EntryGovernance, Governance: &g})
	}
	for _, s := range o.Steps {
		g := policylog.Governance{Kind: s.Kind, Time: s.Time.UTC(), Actor: s.Actor, Text: s.Text}
		if !s.Until.IsZero() {
			u := s.Until.UTC()
			g.Until = &u
		}
		rec(g)
	}
	at := o.Steps[len(o.Steps)-1].Time
	for _, s := range o.Steps {
		if s.Kind == policylog.StepAdopted || s.Kind == policylog.StepRejected || s.Kind == policylog.StepWithdrawn || s.Kind == policylog.StepNotInitiated || s.Kind == policylog.StepOutOfScope {
			at = s.Time
		}
	}
	rec(policylog.Governance{Kind: policylog.StepOutcome, Time: at.UTC(), Decision: string(o.Decision), Rule: o.Rule, Consensus: string(o.Consensus), Text: o.Explanation})
	return out
}

// Format writes outcomes for people: per proposal, the forum and its
// source, the dated steps, the decision with the rule that decided and
// why, the consensus level, minority views and the policy changes.
func Format(w io.Writer, outcomes []Outcome) error {
	var b strings.Builder
	for i, o := range outcomes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "proposal %s: %s\n", o.Proposal, o.Title)
		fmt.Fprintf(&b, "forum %s (%s), after %s\n", o.Forum, o.Model, o.Source)
		for _, s := range o.Steps {
			line := fmt.Sprintf("  %s  %-22s", s.Time.UTC().Format("2006-01-02 15:04Z"), s.Kind)
			if s.Actor != "" {
				line += " " + s.Actor
			}
			if !s.Until.IsZero() {
				line += " until " + s.Until.UTC().Format("2006-01-02 15:04Z")
			}
			if s.Text != "" {
				line += " " + quoteIfText(s)
			}
			b.WriteString(strings.TrimRight(line, " "))
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "outcome: %s by rule %q\n", o.Decision, o.Rule)
		fmt.Fprintf(&b, "  why: %s\n", o.Explanation)
		if o.Consensus != "" {
			fmt.Fprintf(&b, "  consensus level: %s\n", o.Consensus)
		}
		for _, m := range o.Minority {
			fmt.Fprintf(&b, "  minority view of %s: %q\n", m.Actor, m.Text)
		}
		for _, c := range o.Changes {
			fmt.Fprintf(&b, "  change from %s: %s\n", c.Effective, c)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func quoteIfText(s Step) string {
	switch s.Kind {
	case policylog.StepObjection, policylog.StepAbstention, policylog.StepMinorityRecorded, policylog.StepFiled:
		return fmt.Sprintf("%q", s.Text)
	}
	return "— " + s.Text
}

func (c PolicyChange) String() string {
	target := c.Jurisdiction
	if c.RootZone {
		target = "the root zone"
	}
	var parts []string
	if len(c.Add) > 0 {
		parts = append(parts, "add "+strings.Join(c.Add, " "))
	}
	if len(c.Remove) > 0 {
		parts = append(parts, "remove "+strings.Join(c.Remove, " "))
	}
	s := fmt.Sprintf("%s %s", target, c.Kind)
	if c.List != "" {
		s += " list " + c.List
	}
	if c.Technique != "" {
		s += " (" + c.Technique + ")"
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	return s
}
