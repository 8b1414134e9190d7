package governance

import (
	"fmt"
	"time"

	"github.com/splinter-lab/splinter/policylog"
)

// File is a governance scenario: who the actors are, which blocs they form,
// which forums can decide and by which rules, and the proposals put to
// them. It is the canonical typed form; Load is the YAML adapter onto it
// and Validate checks it. The zero File is not valid (it needs a name, a
// forum and a proposal).
type File struct {
	Name        string
	Description string
	Sources     []string
	Actors      []Actor
	Blocs       []Bloc
	Forums      []Forum
	Proposals   []Proposal

	// Source is the file it was read from; Pos where its document starts.
	Source string
	Pos    Pos
	pos    map[string]Pos
}

// ActorKind is the stakeholder group an actor belongs to.
type ActorKind string

// Actor kinds (the multi-stakeholder model's groups).
const (
	State             ActorKind = "state"
	Company           ActorKind = "company"
	CivilSociety      ActorKind = "civil-society"
	Technical         ActorKind = "technical"
	Academia          ActorKind = "academia"
	Intergovernmental ActorKind = "intergovernmental"
)

var actorKinds = []ActorKind{State, Company, CivilSociety, Technical, Academia, Intergovernmental}

// Actor is a participant: a state, a company, a civil-society group, the
// technical community. The zero Actor is not valid.
type Actor struct {
	ID   string
	Name string
	Kind ActorKind
	// Jurisdiction is a state's code ("CN"); a policy change for the
	// state applies to this jurisdiction's border. Required for states.
	Jurisdiction string
	// ResponseTime is how long the actor needs to respond to a text once
	// a comment window opens (a delegation consulting its capital, a
	// coalition agreeing a statement). An actor whose response time is
	// longer than a window is absent from it: its position is not
	// registered. Zero means at once.
	ResponseTime time.Duration
	Pos          Pos
}

// Bloc is a named group of states (SCO).
type Bloc struct {
	ID      string
	Name    string
	Members []string // actor IDs
	Source  string
	Pos     Pos
}

// Model is a forum's governance model.
type Model string

// Models.
const (
	// Sovereign: one authority decides alone; a comment period, if the
	// forum has one, is held but does not bind.
	Sovereign Model = "sovereign"
	// Multilateral: member states only, one state one vote (Majority) or
	// consensus (no member present in the window objects).
	Multilateral Model = "multilateral"
	// MultiStakeholder: stakeholder groups in houses; initiation
	// threshold, issue report, comment window of at least a minimum,
	// consensus designation over every participant, adoption by a vote
	// across houses.
	MultiStakeholder Model = "multistakeholder"
)

// DecisionRule is how a multilateral forum or a multi-stakeholder working
// group decides.
type DecisionRule string

// Decision rules.
const (
	// Consensus (multilateral): adopted if no member state present in the
	// comment window objects (SCO Charter art. 16; UN GGE reports).
	Consensus DecisionRule = "consensus"
	// Majority (multilateral): one state one vote; adopted if the yes
	// votes exceed Majority of the members present and voting (ITU).
	Majority DecisionRule = "majority"
	// GNSOLevels (multi-stakeholder): the chair designates full
	// consensus, consensus, strong support but significant opposition or
	// divergence (GNSO Working Group Guidelines §3.6).
	GNSOLevels DecisionRule = "gnso-levels"
	// RoughConsensus (multi-stakeholder): reached when every objection is
	// addressed, not necessarily accommodated (RFC 7282).
	RoughConsensus DecisionRule = "rough-consensus"
)

// Forum is a body that decides proposals, with its documented procedure.
// The zero Forum is not valid: it needs an ID, a Model and a Source.
type Forum struct {
	ID     string
	Name   string
	Model  Model
	Source string // the documented procedure the rules come from (required)
	// Scope lists the kinds of change the forum may decide (ChangeKind);
	// empty means any. A proposal outside it ends at the issue report.
	Scope []ChangeKind

	// Sovereign.
	Authority string // actor ID

	// Multilateral: Members are actor IDs or bloc IDs (states only).
	Members  []string
	Rule     DecisionRule
	Majority float64 // fraction of present-and-voting that yes must exceed (Majority)
	Quorum   float64 // fraction of members that must be present (Majority); 0 = none

	// MinComment is the shortest comment window the procedure allows; a
	// shorter proposed window is extended to it. Zero: no minimum.
	MinComment time.Duration

	// Multi-stakeholder.
	Houses []House
	// Advisory are actors (advisory committees) that may request an issue
	// report without a council vote; their positions count in the
	// working group but they have no council vote.
	Advisory []string
	// InitiationThreshold is the fraction of each house's members whose
	// support starts the process (GNSO: more than 25% of each house);
	// a majority of one house also does.
	InitiationThreshold float64
	// IssueReport is how long staff take to write the issue report
	// (GNSO: 15 days).
	IssueReport time.Duration
	// ConsensusMaxOpposition is the largest share of opposed participants
	// for a "consensus" designation ("a small minority disagrees"); more
	// than that with a supporting majority is "strong support but
	// significant opposition". The figure is the file's reading of the
	// guideline's words.
	ConsensusMaxOpposition float64
	// AdoptAt is the weakest designation that may go to a council vote.
	AdoptAt Level
	// Supermajority is the council's adoption threshold: this fraction of
	// each house, or SupermajorityOneHouse of one house and a majority of
	// the other (GNSO: 2/3 of each house, or 3/4 of one and a majority of
	// the other).
	Supermajority         float64
	SupermajorityOneHouse float64

	Pos Pos
}

// House is a group of stakeholders that votes as one in a council.
type House struct {
	ID      string
	Members []string // actor IDs
}

// Level is a consensus designation.
type Level string

// Consensus levels: GNSO Working Group Guidelines §3.6, and RFC 7282.
const (
	FullConsensus     Level = "full-consensus"
	ConsensusLevel    Level = "consensus"
	StrongSupport     Level = "strong-support-significant-opposition"
	Divergence        Level = "divergence"
	RoughConsensusLvl Level = "rough-consensus"
	NoConsensus       Level = "no-consensus"
)

var levelRank = map[Level]int{FullConsensus: 4, ConsensusLevel: 3, RoughConsensusLvl: 3, StrongSupport: 2, Divergence: 1, NoConsensus: 0}

// ChangeKind is what a proposal changes.
type ChangeKind string

// Change kinds.
const (
	// NameChange adds or removes names on a list that borders enforce.
	NameChange ChangeKind = "names"
	// Technique adopts or drops a blocking technique (a rule of a
	// profile).
	Technique ChangeKind = "technique"
	// RootZone changes the shared root zone everyone resolves through.
	RootZone ChangeKind = "root-zone"
)

// Change is what an adopted proposal does to policies. The zero Change
// changes nothing.
type Change struct {
	Kind ChangeKind
	// Target: one of Jurisdiction (a code), Bloc (every member state),
	// Signatories (every state that supported the proposal), or nothing
	// for a root-zone change (everyone).
	Jurisdiction string
	Bloc         string
	Signatories  bool
	// List is the list the names go to in each target's policy ("names");
	// Lists overrides it per jurisdiction code (RU: tspu-names).
	List   string
	Lists  map[string]string
	Add    []string
	Remove []string
	// Technique names a rule ID of a profile ("cn-esni") for Technique
	// changes, or the matcher kind the names are meant for ("dns",
	// "tls-sni") for Names changes; for people and for the lab.
	Technique string
	Pos       Pos
}

// Stance is an actor's position on a proposal.
type Stance string

// Stances.
const (
	Support Stance = "support"
	Oppose  Stance = "oppose"
	Abstain Stance = "abstain"
)

// Position is an actor's position on a proposal.
type Position struct {
	Actor  string
	Stance Stance
	// Objection is the text of an opposition (or of a reservation).
	Objection string
	// Addressed says the chair found the objection addressed (rough
	// consensus).
	Addressed bool
	Pos       Pos
}

// Proposal is a change put to a forum, with its dates and the positions
// actors take. The zero Proposal is not valid.
type Proposal struct {
	ID    string
	Title string
	Forum string // forum ID; Replay's override replaces it
	By    string // actor ID of the proposer
	Filed time.Time
	// CommentOpens and CommentCloses bound the proposed comment window
	// (CommentOpens defaults to Filed, or after the issue report in a
	// multi-stakeholder forum; the window keeps its length).
	CommentOpens  time.Time
	CommentCloses time.Time
	// Effective is the day the change is meant to take effect; it moves
	// later if the decision comes later.
	Effective policylog.Day
	Change    Change
	Positions []Position
	Pos       Pos
}

// Pos is a position in a governance file; the zero Pos is unknown.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}
