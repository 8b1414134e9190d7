package governance

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks the file and reports every problem as an *Error. For a
// File built in Go, problems carry no position.
func (f *File) Validate() error {
	var ps problems
	at := func(path string, fallback Pos) Pos {
		if p, ok := f.pos[path]; ok {
			return p
		}
		return fallback
	}
	if f.Name == "" {
		ps.add(f.Pos, "the file has no name")
	}
	actors := map[string]*Actor{}
	for i := range f.Actors {
		a := &f.Actors[i]
		path := fmt.Sprintf("actors[%d]", i)
		switch {
		case a.ID == "":
			ps.add(a.Pos, "an actor has no id")
		case actors[a.ID] != nil:
			ps.add(at(path+".id", a.Pos), "actor id %q is repeated", a.ID)
		default:
			actors[a.ID] = a
		}
		if !slices.Contains(actorKinds, a.Kind) {
			ps.add(at(path+".kind", a.Pos), "actor %q: kind %q is not one of %s", a.ID, a.Kind, joinKinds(actorKinds))
		}
		if a.Kind == State && a.Jurisdiction == "" {
			ps.add(a.Pos, "actor %q is a state and needs a jurisdiction code", a.ID)
		}
		if a.Kind != State && a.Jurisdiction != "" {
			ps.add(at(path+".jurisdiction", a.Pos), "actor %q is not a state: a jurisdiction applies to states only", a.ID)
		}
	}
	isState := func(id string) bool { a := actors[id]; return a != nil && a.Kind == State }
	blocs := map[string]*Bloc{}
	for i := range f.Blocs {
		b := &f.Blocs[i]
		path := fmt.Sprintf("blocs[%d]", i)
		if b.ID == "" || blocs[b.ID] != nil || actors[b.ID] != nil {
			ps.add(at(path+".id", b.Pos), "bloc id %q is empty or already used", b.ID)
		}
		blocs[b.ID] = b
		if len(b.Members) == 0 {
			ps.add(b.Pos, "bloc %q has no members", b.ID)
		}
		for j, m := range b.Members {
			if !isState(m) {
				ps.add(at(fmt.Sprintf("%s.members[%d]", path, j), b.Pos), "bloc %q: member %q is not a state actor", b.ID, m)
			}
		}
	}
	forums := map[string]*Forum{}
	for i := range f.Forums {
		fo := &f.Forums[i]
		path := fmt.Sprintf("forums[%d]", i)
		p := func(field string) Pos { return at(path+"."+field, fo.Pos) }
		if fo.ID == "" || forums[fo.ID] != nil {
			ps.add(p("id"), "forum id %q is empty or repeated", fo.ID)
		}
		forums[fo.ID] = fo
		if strings.TrimSpace(fo.Source) == "" {
			ps.add(fo.Pos, "forum %q has no source: cite the documented procedure its rules come from", fo.ID)
		}
		for j, k := range fo.Scope {
			if !slices.Contains([]ChangeKind{NameChange, Technique, RootZone}, k) {
				ps.add(at(fmt.Sprintf("%s.scope[%d]", path, j), fo.Pos), "forum %q: scope %q is not one of names, technique, root-zone", fo.ID, k)
			}
		}
		switch fo.Model {
		case Sovereign:
			if actors[fo.Authority] == nil {
				ps.add(p("authority"), "forum %q: authority %q is not an actor", fo.ID, fo.Authority)
			}
		case Multilateral:
			if len(fo.Members) == 0 {
				ps.add(fo.Pos, "forum %q: a multilateral forum needs members (states or blocs)", fo.ID)
			}
			for j, m := range fo.Members {
				if !isState(m) && blocs[m] == nil {
					ps.add(at(fmt.Sprintf("%s.members[%d]", path, j), fo.Pos), "forum %q: member %q is neither a state actor nor a bloc", fo.ID, m)
				}
			}
			switch fo.Rule {
			case Consensus:
			case Majority:
				if fo.Majority <= 0 || fo.Majority >= 1 {
					ps.add(p("majority"), "forum %q: a majority rule needs majority in (0, 1), e.g. 0.5 or \"2/3\"", fo.ID)
				}
			default:
				ps.add(p("rule"), "forum %q: rule %q is not consensus or majority", fo.ID, fo.Rule)
			}
		case MultiStakeholder:
			if len(fo.Houses) == 0 {
				ps.add(fo.Pos, "forum %q: a multi-stakeholder forum needs houses", fo.ID)
			}
			seen := map[string]string{}
			for j, h := range fo.Houses {
				if h.ID == "" || len(h.Members) == 0 {
					ps.add(at(fmt.Sprintf("%s.houses[%d]", path, j), fo.Pos), "forum %q: house %d needs an id and members", fo.ID, j)
				}
				for k, m := range h.Members {
					mp := at(fmt.Sprintf("%s.houses[%d].members[%d]", path, j, k), fo.Pos)
					if actors[m] == nil {
						ps.add(mp, "forum %q: house %q: member %q is not an actor", fo.ID, h.ID, m)
					}
					if other, dup := seen[m]; dup {
						ps.add(mp, "forum %q: %q sits in houses %q and %q", fo.ID, m, other, h.ID)
					}
					seen[m] = h.ID
				}
			}
			for j, a := range fo.Advisory {
				if actors[a] == nil {
					ps.add(at(fmt.Sprintf("%s.advisory[%d]", path, j), fo.Pos), "forum %q: advisory %q is not an actor", fo.ID, a)
				}
			}
			switch fo.Rule {
			case "":
				fo.Rule = GNSOLevels
			case GNSOLevels, RoughConsensus:
			default:
				ps.add(p("rule"), "forum %q: rule %q is not gnso-levels or rough-consensus", fo.ID, fo.Rule)
			}
			if fo.AdoptAt == "" {
				fo.AdoptAt = ConsensusLevel
			}
			if _, ok := levelRank[fo.AdoptAt]; !ok {
				ps.add(p("adopt-at"), "forum %q: adopt-at %q is not a consensus level (%s, %s, %s, %s)", fo.ID, fo.AdoptAt, FullConsensus, ConsensusLevel, StrongSupport, Divergence)
			}
			if fo.Supermajority == 0 {
				ps.add(fo.Pos, "forum %q: a multi-stakeholder forum needs a council supermajority (e.g. \"2/3\")", fo.ID)
			}
		default:
			ps.add(p("model"), "forum %q: model %q is not sovereign, multilateral or multistakeholder", fo.ID, fo.Model)
		}
	}
	if len(f.Forums) == 0 {
		ps.add(f.Pos, "the file declares no forum")
	}
	if len(f.Proposals) == 0 {
		ps.add(f.Pos, "the file declares no proposal")
	}
	ids := map[string]bool{}
	for i := range f.Proposals {
		pr := &f.Proposals[i]
		path := fmt.Sprintf("proposals[%d]", i)
		p := func(field string) Pos { return at(path+"."+field, pr.Pos) }
		if pr.ID == "" || ids[pr.ID] {
			ps.add(p("id"), "proposal id %q is empty or repeated", pr.ID)
		}
		ids[pr.ID] = true
		if forums[pr.Forum] == nil {
			ps.add(p("forum"), "proposal %q: forum %q is not declared%s", pr.ID, pr.Forum, suggestList(pr.Forum, mapKeys(forums)))
		}
		if actors[pr.By] == nil {
			ps.add(p("by"), "proposal %q: proposer %q is not an actor", pr.ID, pr.By)
		}
		if pr.Filed.IsZero() {
			ps.add(pr.Pos, "proposal %q has no filed time", pr.ID)
		}
		if pr.CommentCloses.IsZero() {
			ps.add(pr.Pos, "proposal %q has no comment window (comment: {closes: ...})", pr.ID)
		}
		opens := pr.CommentOpens
		if opens.IsZero() {
			opens = pr.Filed
		}
		if !pr.CommentCloses.IsZero() && !pr.CommentCloses.After(opens) {
			ps.add(p("comment"), "proposal %q: the comment window closes (%s) before it opens (%s)", pr.ID, pr.CommentCloses.Format("2006-01-02T15:04Z"), opens.Format("2006-01-02T15:04Z"))
		}
		if pr.Effective.IsZero() {
			ps.add(pr.Pos, "proposal %q has no effective date", pr.ID)
		}
		c := &pr.Change
		cp := func(field string) Pos { return at(path+".change."+field, c.Pos) }
		targets := 0
		if c.Jurisdiction != "" {
			targets++
		}
		if c.Bloc != "" {
			targets++
			if blocs[c.Bloc] == nil {
				ps.add(cp("bloc"), "proposal %q: bloc %q is not declared", pr.ID, c.Bloc)
			}
		}
		if c.Signatories {
			targets++
		}
		switch c.Kind {
		case NameChange, Technique:
			if targets != 1 {
				ps.add(c.Pos, "proposal %q: a %s change targets exactly one of jurisdiction, bloc, signatories", pr.ID, c.Kind)
			}
		case RootZone:
			if targets != 0 {
				ps.add(c.Pos, "proposal %q: a root-zone change applies to everyone: no jurisdiction, bloc or signatories", pr.ID)
			}
		default:
			ps.add(cp("kind"), "proposal %q: change kind %q is not names, technique or root-zone", pr.ID, c.Kind)
		}
		if c.Kind == NameChange && c.List == "" {
			ps.add(c.Pos, "proposal %q: a names change says which list (list: names)", pr.ID)
		}
		if c.Kind == Technique && c.Technique == "" {
			ps.add(c.Pos, "proposal %q: a technique change names the technique (a profile rule id)", pr.ID)
		}
		if c.Kind != Technique && len(c.Add)+len(c.Remove) == 0 {
			ps.add(c.Pos, "proposal %q: the change adds and removes nothing", pr.ID)
		}
		seen := map[string]bool{}
		for j, pos := range pr.Positions {
			pp := at(fmt.Sprintf("%s.positions[%d]", path, j), pos.Pos)
			if actors[pos.Actor] == nil {
				ps.add(pp, "proposal %q: %q is not an actor", pr.ID, pos.Actor)
			}
			if seen[pos.Actor] {
				ps.add(pp, "proposal %q: %q has two positions", pr.ID, pos.Actor)
			}
			seen[pos.Actor] = true
			if !slices.Contains([]Stance{Support, Oppose, Abstain}, pos.Stance) {
				ps.add(at(fmt.Sprintf("%s.positions[%d].stance", path, j), pos.Pos), "proposal %q: stance %q is not support, oppose or abstain", pr.ID, pos.Stance)
			}
		}
	}
	return ps.err()
}

func joinKinds[T ~string](ks []T) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func suggestList(_ string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}
