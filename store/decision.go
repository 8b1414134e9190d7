package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/score"
)

// This file is the one place that maps border's and policy's types onto the
// decisions and rules tables, and score's items onto the scores table: when
// those types gain fields, this file changes and nothing else.

// Rule is one rule of a policy a run's borders enforced, as the explorer
// cites it.
type Rule struct {
	Policy       string `json:"policy"`
	Rule         string `json:"rule"`
	Jurisdiction string `json:"jurisdiction"`
	Description  string `json:"description"`
	Source       string `json:"source"`
	Year         int    `json:"year,omitempty"`
}

// RulesOf lists the rules of policies, for Run.Rules.
func RulesOf(ps ...*policy.Policy) []Rule {
	var out []Rule
	for _, p := range ps {
		for _, r := range p.Rules {
			out = append(out, Rule{Policy: p.Name, Rule: r.ID, Jurisdiction: p.Meta.Jurisdiction,
				Description: r.Description, Source: r.Source, Year: r.Year})
		}
	}
	return out
}

// ProfileOf describes a policy for Run.Profiles; version is the caller's
// (a file digest, a log index).
func ProfileOf(p *policy.Policy, version string) Profile {
	return Profile{Name: p.Name, Jurisdiction: p.Meta.Jurisdiction, Year: p.Meta.Year, Version: version}
}

// Digest identifies a decision by its content, so that a scored
// measurement can name the decisions joined to it whichever process wrote
// them. Two decisions alike in every field share a digest.
func Digest(d border.Decision) string {
	raw, _ := json.Marshal(identity{Time: d.Time, Border: d.Border, Jurisdiction: d.Jurisdiction, Policy: d.Policy,
		Rule: d.Rule, Action: string(d.Action), Enforced: d.Enforced, Proto: d.Proto, Client: d.Client, Server: d.Server,
		Direction: d.Direction, Evidence: d.Evidence, Detail: d.Detail})
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:12])
}

// identity is what identifies a decision: what it was, when, where, to
// whom. The typed facts a later version of border added (flow id, effect,
// layer, block-page facts, policy index) describe the same decision and do
// not enter its digest, so digests written by schema version 1 still match.
// The fields and their JSON form are version 1's decision, in its order.
type identity struct {
	Time         time.Time         `json:"time"`
	Border       string            `json:"border"`
	Jurisdiction string            `json:"jurisdiction"`
	Policy       string            `json:"policy"`
	Rule         string            `json:"rule"`
	Action       string            `json:"action"`
	Enforced     bool              `json:"enforced,omitempty"`
	Proto        string            `json:"proto"`
	Client       netip.AddrPort    `json:"client"`
	Server       netip.AddrPort    `json:"server"`
	Direction    string            `json:"direction"`
	Evidence     []border.Evidence `json:"evidence,omitempty"`
	Detail       string            `json:"detail,omitempty"`
}

type ruleKey struct{ policy, rule string }

// decisionValues maps d onto the decisions table; rules supplies the
// rule's citation.
func decisionValues(run, writer string, seq int64, d border.Decision, rules map[ruleKey]Rule) (values, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("store: decision: %w", err)
	}
	ev := d.Evidence
	if ev == nil {
		ev = []border.Evidence{}
	}
	evj, _ := json.Marshal(ev)
	v := values{
		"run_id":       run,
		"writer":       writer,
		"seq":          seq,
		"digest":       Digest(d),
		"time_ns":      d.Time.UnixNano(),
		"border":       d.Border,
		"jurisdiction": d.Jurisdiction,
		"policy":       d.Policy,
		"rule":         d.Rule,
		"action":       string(d.Action),
		"flow_id":      ptr(int64(d.FlowID)),
		"effect":       ptr(d.Effect.String()),
		"layer":        ptr(d.Layer.String()),
		"enforced":     d.Enforced,
		"proto":        d.Proto,
		"client_ip":    addrString(d.Client.Addr().Unmap()),
		"client_port":  int64(d.Client.Port()),
		"server_ip":    addrString(d.Server.Addr().Unmap()),
		"server_port":  int64(d.Server.Port()),
		"direction":    d.Direction,
		"evidence":     string(evj),
		"detail":       d.Detail,
		"raw":          string(raw),
		"log_index":    d.PolicyIndex, // the policy version's index in the transparency log, if any
	}
	v["evidence_kind"], v["evidence_value"] = "", ""
	if len(d.Evidence) > 0 {
		v["evidence_kind"], v["evidence_value"] = string(d.Evidence[0].Kind), d.Evidence[0].Value
	}
	v["source"], v["year"] = "", (*int64)(nil)
	if r, ok := rules[ruleKey{d.Policy, d.Rule}]; ok {
		v["source"] = r.Source
		if r.Year != 0 {
			v["year"] = ptr(int64(r.Year))
		}
	}
	return v, nil
}

// Decision is one border decision as stored: the decision itself and what
// the store adds to it.
type Decision struct {
	border.Decision
	// Writer and Seq say which process recorded it, in which order.
	Writer string `json:"writer"`
	Seq    int64  `json:"seq"`
	Digest string `json:"digest"`
	// Source and Year cite the rule that took it ("" and 0 if the run did
	// not list the rule).
	Source string `json:"source,omitempty"`
	Year   int    `json:"year,omitempty"`
	// LogIndex is the policy transparency log's index of the policy
	// version that took it, when there is one.
	LogIndex *int64 `json:"log_index,omitempty"`
}

// decisionFromRaw rebuilds a decision from its raw JSON.
func decisionFromRaw(raw string) (border.Decision, error) {
	var d border.Decision
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return d, fmt.Errorf("store: decision: %w", err)
	}
	return d, nil
}

// scoreValues maps a scored item onto the scores table, and its decisions
// onto score_decisions.
func scoreValues(run string, it score.Item, explanation string) (Key, values, []values) {
	k := Key{Vantage: it.Vantage, Input: it.Input}
	v := values{
		"run_id":      run,
		"vantage":     it.Vantage,
		"input":       it.Input,
		"domain":      it.Domain,
		"category":    it.Category,
		"probe_cc":    it.CC,
		"measured":    string(it.Measured),
		"truth":       string(it.Truth),
		"agree":       it.Measured == it.Truth,
		"explanation": explanation,
	}
	var links []values
	seen := map[string]bool{}
	for _, d := range it.Decisions {
		dg := Digest(d)
		if seen[dg] {
			continue
		}
		seen[dg] = true
		links = append(links, values{"run_id": run, "vantage": it.Vantage, "input": it.Input, "digest": dg})
	}
	return k, v, links
}
