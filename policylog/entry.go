package policylog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EntryType says what an entry records.
type EntryType string

// Entry types.
const (
	// EntryPolicyVersion records a policy version (Entry.Policy).
	EntryPolicyVersion EntryType = "policy-version"
	// EntryGovernance records a governance step or outcome
	// (Entry.Governance).
	EntryGovernance EntryType = "governance"
)

// MaxEntrySize is the largest encoded entry: entry bundles prefix each
// entry with a big-endian uint16 length (tlog-tiles).
const MaxEntrySize = 1<<16 - 1

// Entry is one record of the log. Exactly one of Policy and Governance is
// set, as Type says. Its encoding (Marshal) is the leaf's data: compact
// JSON with the fields in the order declared here. The zero Entry is not
// valid.
type Entry struct {
	Type       EntryType   `json:"type"`
	Policy     *PolicyRef  `json:"policy,omitempty"`
	Governance *Governance `json:"governance,omitempty"`
}

// PolicyRef is what the log records of a policy version: who applies it,
// from when, and the hash of its bundle (PolicyVersion.Canonical).
type PolicyRef struct {
	// Name is the policy's name ("CN-2024").
	Name string `json:"name"`
	// Jurisdiction is the code of the state that applies it ("CN").
	Jurisdiction string `json:"jurisdiction"`
	// Version labels the version ("2024.1", "wuzhen-2014-adopted").
	Version string `json:"version"`
	// Effective is the first day the version is in force (UTC).
	Effective Day `json:"effective"`
	// SHA256 is the hex SHA-256 of the version's canonical bundle.
	SHA256 string `json:"sha256"`
	// Files lists the bundle's files, the policy YAML first.
	Files []FileRef `json:"files"`
	// Cause, if the version results from a governance decision, names the
	// proposal ("wuzhen-declaration"); empty for versions appended by hand.
	Cause string `json:"cause,omitempty"`
}

// FileRef names one file of a policy bundle.
type FileRef struct {
	Path   string `json:"path"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// StepKind is the kind of a governance record: a step of a proposal's
// process, or its outcome.
type StepKind string

// Governance record kinds.
const (
	StepFiled            StepKind = "proposal-filed"
	StepInitiated        StepKind = "initiated"     // a forum voted to take the proposal up
	StepNotInitiated     StepKind = "not-initiated" // the initiation threshold was not met
	StepIssueReport      StepKind = "issue-report"  // staff reported on the issue (and its scope)
	StepCommentOpened    StepKind = "comment-window-opened"
	StepCommentExtended  StepKind = "comment-window-extended" // the forum's minimum overrode the proposed window
	StepCommentClosed    StepKind = "comment-window-closed"
	StepSupport          StepKind = "support"
	StepObjection        StepKind = "objection"
	StepAbstention       StepKind = "abstention"
	StepAbsent           StepKind = "absent" // could not respond within the window
	StepConsensus        StepKind = "consensus-designation"
	StepVote             StepKind = "vote"
	StepAdopted          StepKind = "adopted"
	StepRejected         StepKind = "rejected"
	StepWithdrawn        StepKind = "withdrawn"
	StepEffective        StepKind = "effective"
	StepOutcome          StepKind = "outcome"
	StepOutOfScope       StepKind = "out-of-scope"
	StepMinorityRecorded StepKind = "minority-view"
)

var stepKinds = map[StepKind]bool{
	StepFiled: true, StepInitiated: true, StepNotInitiated: true, StepIssueReport: true,
	StepCommentOpened: true, StepCommentExtended: true, StepCommentClosed: true,
	StepSupport: true, StepObjection: true, StepAbstention: true, StepAbsent: true,
	StepConsensus: true, StepVote: true, StepAdopted: true, StepRejected: true,
	StepWithdrawn: true, StepEffective: true, StepOutcome: true, StepOutOfScope: true,
	StepMinorityRecorded: true,
}

// Governance is one dated governance record. Its zero value is not valid:
// Proposal, Forum, Kind and Time are required.
type Governance struct {
	// Proposal and Forum identify the process (ids from the governance
	// file).
	Proposal string `json:"proposal"`
	Forum    string `json:"forum"`
	// Kind says what happened.
	Kind StepKind `json:"kind"`
	// Time is when it happened (UTC, to the second).
	Time time.Time `json:"time"`
	// Actor is who acted ("" for the forum itself).
	Actor string `json:"actor,omitempty"`
	// Text is an objection's or minority view's text, a vote's tally, or a
	// short statement of what happened.
	Text string `json:"text,omitempty"`
	// Until closes a window opened at Time.
	Until *time.Time `json:"until,omitempty"`
	// Decision, Rule and Consensus describe an outcome or a designation:
	// "adopted", the rule that decided ("consensus: objection by X"), the
	// consensus level ("full-consensus", ...).
	Decision  string `json:"decision,omitempty"`
	Rule      string `json:"rule,omitempty"`
	Consensus string `json:"consensus,omitempty"`
}

// Day is a calendar date in UTC, encoded as YYYY-MM-DD. The zero Day is
// unset.
type Day struct{ t time.Time }

// DayOf returns the day t falls on in UTC.
func DayOf(t time.Time) Day {
	if t.IsZero() {
		return Day{}
	}
	y, m, d := t.UTC().Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// ParseDay parses YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Day{}, fmt.Errorf("policylog: invalid date %q (want YYYY-MM-DD)", s)
	}
	return Day{t}, nil
}

// Time returns the start of the day in UTC.
func (d Day) Time() time.Time { return d.t }

// IsZero reports whether the day is unset.
func (d Day) IsZero() bool { return d.t.IsZero() }

func (d Day) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// MarshalText encodes the day as YYYY-MM-DD.
func (d Day) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses YYYY-MM-DD.
func (d *Day) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Day{}
		return nil
	}
	v, err := ParseDay(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Marshal returns the entry's canonical encoding after checking it.
func (e Entry) Marshal() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	data := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("policylog: entry is %d bytes, more than the %d an entry bundle holds", len(data), MaxEntrySize)
	}
	return data, nil
}

// ParseEntry decodes an entry strictly (unknown fields are errors) and
// validates it.
func ParseEntry(data []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("policylog: entry does not decode: %v", err)
	}
	if dec.More() {
		return Entry{}, errors.New("policylog: entry has data after its JSON object")
	}
	if err := e.Validate(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Validate checks that the entry is well formed.
func (e Entry) Validate() error {
	switch e.Type {
	case EntryPolicyVersion:
		if e.Policy == nil || e.Governance != nil {
			return errors.New("policylog: a policy-version entry carries a policy and nothing else")
		}
		p := e.Policy
		var bad []string
		if p.Name == "" {
			bad = append(bad, "no name")
		}
		if p.Version == "" {
			bad = append(bad, "no version label")
		}
		if p.Effective.IsZero() {
			bad = append(bad, "no effective date")
		}
		if !isHexHash(p.SHA256) {
			bad = append(bad, fmt.Sprintf("sha256 %q is not 64 hex digits", p.SHA256))
		}
		if len(p.Files) == 0 {
			bad = append(bad, "no files")
		}
		for _, f := range p.Files {
			if !isHexHash(f.SHA256) || f.Path == "" || f.Size < 0 {
				bad = append(bad, fmt.Sprintf("bad file %q", f.Path))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("policylog: policy version %q: %s", p.Name, strings.Join(bad, "; "))
		}
	case EntryGovernance:
		if e.Governance == nil || e.Policy != nil {
			return errors.New("policylog: a governance entry carries a governance record and nothing else")
		}
		g := e.Governance
		switch {
		case g.Proposal == "" || g.Forum == "":
			return errors.New("policylog: a governance record names its proposal and forum")
		case !stepKinds[g.Kind]:
			return fmt.Errorf("policylog: unknown governance record kind %q", g.Kind)
		case g.Time.IsZero():
			return fmt.Errorf("policylog: governance record %s of %q has no time", g.Kind, g.Proposal)
		}
	default:
		return fmt.Errorf("policylog: unknown entry type %q (want %s or %s)", e.Type, EntryPolicyVersion, EntryGovernance)
	}
	return nil
}

// Summary is one line describing the entry, for people.
func (e Entry) Summary() string {
	switch {
	case e.Policy != nil:
		p := e.Policy
		s := fmt.Sprintf("policy %s (%s) version %s effective %s sha256:%.12s", p.Name, p.Jurisdiction, p.Version, p.Effective, p.SHA256)
		if p.Cause != "" {
			s += " cause " + p.Cause
		}
		return s
	case e.Governance != nil:
		g := e.Governance
		s := fmt.Sprintf("%s %s %s", g.Time.UTC().Format("2006-01-02 15:04"), g.Proposal, g.Kind)
		if g.Actor != "" {
			s += " by " + g.Actor
		}
		if g.Decision != "" {
			s += ": " + g.Decision
		}
		if g.Consensus != "" {
			s += " [" + g.Consensus + "]"
		}
		if g.Rule != "" {
			s += " (" + g.Rule + ")"
		}
		if g.Text != "" {
			s += fmt.Sprintf(" %q", g.Text)
		}
		return s
	}
	return string(e.Type)
}

func isHexHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && strings.ToLower(s) == s
}
