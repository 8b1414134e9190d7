package governance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/policylog"
)

// Decision is how a proposal ended.
type Decision string

// Decisions.
const (
	Adopted      Decision = "adopted"
	Rejected     Decision = "rejected"  // a vote or a consensus designation fell short
	Withdrawn    Decision = "withdrawn" // an objection broke consensus, or the authority did not back it
	NotInitiated Decision = "not-initiated"
	OutOfScope   Decision = "out-of-scope"
)

// Step is one dated step of a proposal's process.
type Step struct {
	Time  time.Time
	Kind  policylog.StepKind
	Actor string
	Text  string
	Until time.Time // closes a window opened at Time
}

// MinorityView is an opposing position recorded with the outcome.
type MinorityView struct {
	Actor string
	Text  string
}

// PolicyChange is what an adopted proposal does to one jurisdiction's
// policy (or, with RootZone, to the shared root zone) from Effective on.
// The composition root turns it into a policy version (Apply), logs it and
// has the border enforce it from that date.
type PolicyChange struct {
	Proposal     string
	Jurisdiction string // "" for a root-zone change
	RootZone     bool
	Effective    policylog.Day
	Kind         ChangeKind
	List         string
	Add, Remove  []string
	Technique    string
}

// Outcome is the replay of one proposal through one forum.
type Outcome struct {
	Proposal string
	Title    string
	Forum    string
	Model    Model
	Source   string // the forum's cited procedure
	Steps    []Step
	Decision Decision
	// Rule names the rule that decided, in a few words ("consensus:
	// objection by US"); Explanation says why, for people.
	Rule        string
	Explanation string
	// Consensus is the designation reached, if the forum designates one.
	Consensus Level
	Minority  []MinorityView
	// Effective is the day an adopted change takes effect.
	Effective policylog.Day
	Changes   []PolicyChange
}

// Replay runs every proposal of f through its forum, or through the forum
// named by override for all of them ("" keeps each proposal's own). The
// outcome follows from the forum's rules, the dates and the actors'
// positions and response times; nothing is drawn at random.
func Replay(f *File, override string) ([]Outcome, error) {
	forums := map[string]*Forum{}
	for i := range f.Forums {
		forums[f.Forums[i].ID] = &f.Forums[i]
	}
	if override != "" && forums[override] == nil {
		return nil, fmt.Errorf("governance: %s: no forum %q (declared: %s)", f.Name, override, strings.Join(mapKeys(forums), ", "))
	}
	r := &replayer{f: f, actors: map[string]*Actor{}, blocs: map[string]*Bloc{}}
	for i := range f.Actors {
		r.actors[f.Actors[i].ID] = &f.Actors[i]
	}
	for i := range f.Blocs {
		r.blocs[f.Blocs[i].ID] = &f.Blocs[i]
	}
	var out []Outcome
	for i := range f.Proposals {
		p := &f.Proposals[i]
		fo := forums[p.Forum]
		if override != "" {
			fo = forums[override]
		}
		out = append(out, r.replay(p, fo))
	}
	return out, nil
}

type replayer struct {
	f      *File
	actors map[string]*Actor
	blocs  map[string]*Bloc
}

// present is a position as registered in a window.
type present struct {
	Position
	at     time.Time
	absent bool // could not respond within the window
}

func (r *replayer) replay(p *Proposal, fo *Forum) Outcome {
	o := Outcome{Proposal: p.ID, Title: p.Title, Forum: fo.ID, Model: fo.Model, Source: fo.Source}
	step := func(t time.Time, k policylog.StepKind, actor, text string) {
		o.Steps = append(o.Steps, Step{Time: t, Kind: k, Actor: actor, Text: text})
	}
	step(p.Filed, policylog.StepFiled, p.By, p.Title)
	opens := p.CommentOpens
	if opens.IsZero() {
		opens = p.Filed
	}
	length := p.CommentCloses.Sub(opens)

	if fo.Model == MultiStakeholder {
		// Initiation (ICANN Bylaws Annex A): an advisory committee's
		// request, or a council vote of more than the threshold of each
		// house or a majority of one house.
		if via := r.advisoryRequest(p, fo); via != "" {
			step(p.Filed, policylog.StepInitiated, via, "issue report requested by an advisory committee")
		} else {
			ok, tally := r.initiation(p, fo)
			if !ok {
				step(p.Filed, policylog.StepNotInitiated, "", tally)
				return r.finish(o, p, p.Filed, NotInitiated, "initiation threshold not met",
					fmt.Sprintf("the council did not take the proposal up: %s; initiation needs more than %s of each house or a majority of one house", tally, pct(fo.InitiationThreshold)), "", nil)
			}
			step(p.Filed, policylog.StepInitiated, "", tally)
		}
		report := p.Filed.Add(fo.IssueReport)
		if len(fo.Scope) > 0 && !slices.Contains(fo.Scope, p.Change.Kind) {
			step(report, policylog.StepIssueReport, "", fmt.Sprintf("a %s change is outside the forum's scope (%s)", p.Change.Kind, joinKinds(fo.Scope)))
			step(report, policylog.StepOutOfScope, "", "")
			return r.finish(o, p, report, OutOfScope, "scope: issue report",
				fmt.Sprintf("the issue report found a %s change outside what %s may decide (%s); the process ends there", p.Change.Kind, fo.ID, joinKinds(fo.Scope)), "", nil)
		}
		step(report, policylog.StepIssueReport, "", "in scope")
		if report.After(opens) {
			opens = report
		}
	}
	closes := opens.Add(length)
	if fo.MinComment > length {
		closes = opens.Add(fo.MinComment)
		step(opens, policylog.StepCommentExtended, "", fmt.Sprintf("the proposed window of %s is shorter than the forum's minimum of %s", dur(length), dur(fo.MinComment)))
		length = fo.MinComment
	}
	o.Steps = append(o.Steps, Step{Time: opens, Kind: policylog.StepCommentOpened, Text: dur(length), Until: closes})

	// Who responds within the window.
	var regs []present
	for _, pos := range p.Positions {
		rt := r.actors[pos.Actor].ResponseTime
		pr := present{Position: pos, at: opens.Add(rt)}
		if rt > length {
			pr.absent, pr.at = true, closes
		}
		regs = append(regs, pr)
	}
	slices.SortStableFunc(regs, func(a, b present) int { return a.at.Compare(b.at) })
	for _, pr := range regs {
		switch {
		case pr.absent:
			step(pr.at, policylog.StepAbsent, pr.Actor, fmt.Sprintf("%s position not registered: needs %s, the window was %s", pr.Stance, dur(r.actors[pr.Actor].ResponseTime), dur(length)))
		case pr.Stance == Support:
			step(pr.at, policylog.StepSupport, pr.Actor, "")
		case pr.Stance == Oppose:
			step(pr.at, policylog.StepObjection, pr.Actor, pr.Objection)
		default:
			step(pr.at, policylog.StepAbstention, pr.Actor, pr.Objection)
		}
	}
	step(closes, policylog.StepCommentClosed, "", "")

	switch fo.Model {
	case Sovereign:
		return r.sovereign(o, p, fo, regs, closes)
	case Multilateral:
		return r.multilateral(o, p, fo, regs, closes, length)
	default:
		return r.multiStakeholder(o, p, fo, regs, closes)
	}
}

func (r *replayer) sovereign(o Outcome, p *Proposal, fo *Forum, regs []present, at time.Time) Outcome {
	minority := objections(regs, nil)
	auth := fo.Authority
	for _, pr := range regs {
		if pr.Actor == auth && pr.Stance == Support {
			return r.finish(o, p, at, Adopted, "sovereign authority: "+auth+" decided alone",
				fmt.Sprintf("%s decides alone; %d objection(s) in the comment period were recorded, not binding", auth, len(minority)), "", minority)
		}
	}
	return r.finish(o, p, at, Withdrawn, "sovereign authority: "+auth+" did not back it",
		fmt.Sprintf("%s decides alone and did not support the proposal", auth), "", minority)
}

// members expands a multilateral forum's member list (states and blocs).
func (r *replayer) members(fo *Forum) []string {
	var out []string
	for _, m := range fo.Members {
		if b := r.blocs[m]; b != nil {
			for _, s := range b.Members {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		} else if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func (r *replayer) multilateral(o Outcome, p *Proposal, fo *Forum, regs []present, at time.Time, length time.Duration) Outcome {
	members := r.members(fo)
	isMember := func(a string) bool { return slices.Contains(members, a) }
	var yes, no, abst, absent []string
	var absentOpp []string
	for _, pr := range regs {
		if !isMember(pr.Actor) {
			continue // observers: their comments are on record, they do not decide
		}
		switch {
		case pr.absent:
			absent = append(absent, pr.Actor)
			if pr.Stance == Oppose {
				absentOpp = append(absentOpp, pr.Actor)
			}
		case pr.Stance == Support:
			yes = append(yes, pr.Actor)
		case pr.Stance == Oppose:
			no = append(no, pr.Actor)
		default:
			abst = append(abst, pr.Actor)
		}
	}
	silent := len(members) - len(yes) - len(no) - len(abst) - len(absent)
	tally := fmt.Sprintf("%d member states: %d support, %d object, %d abstain, %d could not respond in time, %d silent", len(members), len(yes), len(no), len(abst), len(absent), silent)
	minority := objections(regs, isMember)
	if fo.Rule == Consensus {
		o.Steps = append(o.Steps, Step{Time: at, Kind: policylog.StepConsensus, Text: tally})
		if len(no) > 0 {
			return r.finish(o, p, at, Withdrawn, "consensus: objection by "+strings.Join(no, ", "),
				fmt.Sprintf("a decision is adopted only if no member state objects; %s objected within the %s window, so there is no consensus and the text is withdrawn (%s)", strings.Join(no, ", "), dur(length), tally), NoConsensus, minority)
		}
		expl := fmt.Sprintf("no member state present in the %s window objected (%s)", dur(length), tally)
		if len(absentOpp) > 0 {
			expl += fmt.Sprintf("; %s opposed the text but could not respond before the window closed, and silence counts as assent", strings.Join(absentOpp, ", "))
		}
		return r.finish(o, p, at, Adopted, "consensus: no objection registered", expl, ConsensusLevel, minority)
	}
	// One state, one vote: a majority of those present and voting.
	presentN := len(yes) + len(no) + len(abst)
	vote := fmt.Sprintf("yes %d, no %d, abstain %d, not voting %d", len(yes), len(no), len(abst), len(members)-presentN)
	o.Steps = append(o.Steps, Step{Time: at, Kind: policylog.StepVote, Text: vote})
	if fo.Quorum > 0 && float64(presentN) < fo.Quorum*float64(len(members)) {
		return r.finish(o, p, at, Rejected, "majority vote: no quorum",
			fmt.Sprintf("%d of %d member states present, below the quorum of %s (%s)", presentN, len(members), pct(fo.Quorum), vote), "", minority)
	}
	voting := len(yes) + len(no)
	if voting > 0 && float64(len(yes)) > fo.Majority*float64(voting) {
		return r.finish(o, p, at, Adopted, fmt.Sprintf("majority vote: %d of %d", len(yes), voting),
			fmt.Sprintf("one state, one vote: %d yes of %d present and voting exceeds %s (%s)", len(yes), voting, pct(fo.Majority), vote), "", minority)
	}
	return r.finish(o, p, at, Rejected, fmt.Sprintf("majority vote: %d of %d", len(yes), voting),
		fmt.Sprintf("one state, one vote: %d yes of %d present and voting does not exceed %s (%s)", len(yes), voting, pct(fo.Majority), vote), "", minority)
}

func (r *replayer) multiStakeholder(o Outcome, p *Proposal, fo *Forum, regs []present, at time.Time) Outcome {
	var sup, opp []string
	unaddressed := []string{}
	for _, pr := range regs {
		if pr.absent {
			continue
		}
		switch pr.Stance {
		case Support:
			sup = append(sup, pr.Actor)
		case Oppose:
			opp = append(opp, pr.Actor)
			if !pr.Addressed {
				unaddressed = append(unaddressed, pr.Actor)
			}
		}
	}
	var level Level
	var why string
	if fo.Rule == RoughConsensus {
		level = RoughConsensusLvl
		why = fmt.Sprintf("every objection was addressed (%d objections)", len(opp))
		if len(unaddressed) > 0 {
			level = NoConsensus
			why = "objections not addressed: " + strings.Join(unaddressed, ", ")
		}
	} else {
		n := len(sup) + len(opp)
		share := 0.0
		if n > 0 {
			share = float64(len(opp)) / float64(n)
		}
		switch {
		case n > 0 && len(opp) == 0:
			level = FullConsensus
		case n > 0 && share <= fo.ConsensusMaxOpposition:
			level = ConsensusLevel
		case len(sup) > len(opp):
			level = StrongSupport
		default:
			level = Divergence
		}
		why = fmt.Sprintf("%d participants for, %d against (%s opposed)", len(sup), len(opp), pct(share))
	}
	o.Steps = append(o.Steps, Step{Time: at, Kind: policylog.StepConsensus, Text: string(level) + ": " + why})
	minority := objections(regs, nil)
	for _, m := range minority {
		o.Steps = append(o.Steps, Step{Time: at, Kind: policylog.StepMinorityRecorded, Actor: m.Actor, Text: m.Text})
	}
	if levelRank[level] < levelRank[fo.AdoptAt] {
		return r.finish(o, p, at, Rejected, "consensus designation: "+string(level),
			fmt.Sprintf("the working group's designation is %s (%s); only %s or stronger goes to the council", level, why, fo.AdoptAt), level, minority)
	}
	// Council vote by houses.
	stance := map[string]Stance{}
	for _, pos := range p.Positions {
		stance[pos.Actor] = pos.Stance
	}
	var shares []float64
	var parts []string
	for _, h := range fo.Houses {
		y := 0
		for _, m := range h.Members {
			if stance[m] == Support {
				y++
			}
		}
		s := float64(y) / float64(len(h.Members))
		shares = append(shares, s)
		parts = append(parts, fmt.Sprintf("%s %d/%d", h.ID, y, len(h.Members)))
	}
	vote := strings.Join(parts, ", ")
	o.Steps = append(o.Steps, Step{Time: at, Kind: policylog.StepVote, Text: vote})
	all := true
	for _, s := range shares {
		all = all && s >= fo.Supermajority
	}
	oneAndMajority := false
	if fo.SupermajorityOneHouse > 0 {
		for i, s := range shares {
			if s < fo.SupermajorityOneHouse {
				continue
			}
			rest := true
			for j, t := range shares {
				if j != i && t <= 0.5 {
					rest = false
				}
			}
			oneAndMajority = oneAndMajority || rest
		}
	}
	if all || oneAndMajority {
		return r.finish(o, p, at, Adopted, "council supermajority across houses",
			fmt.Sprintf("the working group designated %s and the council adopted it (%s; needs %s of each house%s)", level, vote, pct(fo.Supermajority), oneHouse(fo)), level, minority)
	}
	return r.finish(o, p, at, Rejected, "council vote: no supermajority across houses",
		fmt.Sprintf("the working group designated %s, but support is not spread across houses (%s; needs %s of each house%s)", level, vote, pct(fo.Supermajority), oneHouse(fo)), level, minority)
}

func oneHouse(fo *Forum) string {
	if fo.SupermajorityOneHouse == 0 {
		return ""
	}
	return fmt.Sprintf(", or %s of one and a majority of the other", pct(fo.SupermajorityOneHouse))
}

// advisoryRequest returns the advisory committee that requests the issue
// report: the proposer itself, or, for a state, an intergovernmental
// advisory committee (the GAC) that supports the proposal.
func (r *replayer) advisoryRequest(p *Proposal, fo *Forum) string {
	if slices.Contains(fo.Advisory, p.By) {
		return p.By
	}
	if r.actors[p.By].Kind != State {
		return ""
	}
	for _, pos := range p.Positions {
		if slices.Contains(fo.Advisory, pos.Actor) && r.actors[pos.Actor].Kind == Intergovernmental && pos.Stance == Support {
			return pos.Actor
		}
	}
	return ""
}

// initiation tallies a council's vote to take a proposal up.
func (r *replayer) initiation(p *Proposal, fo *Forum) (bool, string) {
	stance := map[string]Stance{}
	for _, pos := range p.Positions {
		stance[pos.Actor] = pos.Stance
	}
	stance[p.By] = Support
	var parts []string
	each, one := true, false
	for _, h := range fo.Houses {
		y := 0
		for _, m := range h.Members {
			if stance[m] == Support {
				y++
			}
		}
		s := float64(y) / float64(len(h.Members))
		each = each && s > fo.InitiationThreshold
		one = one || s > 0.5
		parts = append(parts, fmt.Sprintf("%s %d/%d", h.ID, y, len(h.Members)))
	}
	return each || one, "initiation vote: " + strings.Join(parts, ", ")
}

func objections(regs []present, keep func(string) bool) []MinorityView {
	var out []MinorityView
	for _, pr := range regs {
		if pr.absent || pr.Objection == "" || pr.Stance == Support || (keep != nil && !keep(pr.Actor)) {
			continue
		}
		out = append(out, MinorityView{Actor: pr.Actor, Text: pr.Objection})
	}
	return out
}

// finish records the decision, the effective date and the policy changes.
func (r *replayer) finish(o Outcome, p *Proposal, at time.Time, d Decision, rule, expl string, level Level, minority []MinorityView) Outcome {
	o.Decision, o.Rule, o.Explanation, o.Consensus, o.Minority = d, rule, expl, level, minority
	kind := map[Decision]policylog.StepKind{Adopted: policylog.StepAdopted, Rejected: policylog.StepRejected, Withdrawn: policylog.StepWithdrawn}[d]
	if kind != "" {
		o.Steps = append(o.Steps, Step{Time: at, Kind: kind, Text: rule})
	}
	if d == Adopted {
		eff := p.Effective
		if eff.Time().Before(at) {
			eff = policylog.DayOf(at.Add(24 * time.Hour)) // not before the day after the decision
		}
		o.Effective = eff
		o.Steps = append(o.Steps, Step{Time: eff.Time(), Kind: policylog.StepEffective})
		o.Changes = r.changes(p, eff)
	}
	slices.SortStableFunc(o.Steps, func(a, b Step) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
	return o
}

func (r *replayer) changes(p *Proposal, eff policylog.Day) []PolicyChange {
	c := p.Change
	base := PolicyChange{Proposal: p.ID, Effective: eff, Kind: c.Kind, List: c.List, Add: c.Add, Remove: c.Remove, Technique: c.Technique}
	var states []string
	switch {
	case c.Kind == RootZone:
		base.RootZone = true
		return []PolicyChange{base}
	case c.Jurisdiction != "":
		base.Jurisdiction = c.Jurisdiction
		if l, ok := c.Lists[c.Jurisdiction]; ok {
			base.List = l
		}
		return []PolicyChange{base}
	case c.Bloc != "":
		// A member that recorded a reservation (abstained or objected
		// without blocking) is not bound by it (SCO Charter art. 16:
		// reservations are recorded in the decision).
		stance := map[string]Stance{}
		for _, pos := range p.Positions {
			stance[pos.Actor] = pos.Stance
		}
		for _, m := range r.blocs[c.Bloc].Members {
			if st, ok := stance[m]; !ok || st == Support {
				states = append(states, m)
			}
		}
	case c.Signatories:
		for _, pos := range p.Positions {
			if a := r.actors[pos.Actor]; a.Kind == State && pos.Stance == Support {
				states = append(states, pos.Actor)
			}
		}
	}
	var out []PolicyChange
	for _, s := range states {
		ch := base
		ch.Jurisdiction = r.actors[s].Jurisdiction
		if l, ok := c.Lists[ch.Jurisdiction]; ok {
			ch.List = l
		}
		out = append(out, ch)
	}
	return out
}

func pct(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", f*100), "0"), ".") + "%"
}

// dur prints a duration in days and hours ("40d", "10h", "1d12h").
func dur(d time.Duration) string {
	days := d / (24 * time.Hour)
	rest := d - days*24*time.Hour
	switch {
	case days > 0 && rest == 0:
		return fmt.Sprintf("%dd", days)
	case days > 0:
		return fmt.Sprintf("%dd%s", days, strings.TrimSuffix(strings.TrimSuffix(rest.String(), "0s"), "0m"))
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}
