package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/splinter-lab/splinter/score"
)

// AuditBorder is one border's part of the audit, for presentation: the
// logged version it cites, the rules of that version no measurement saw,
// and the undeclared blocking found at it.
type AuditBorder struct {
	Border, Policy, Version string
	Index                   int64
	Rules                   int
	NotSeen                 []string // "rule" or "rule (fired N)"
	Undeclared              []string
}

// AuditBorders arranges r.Audit by border (nil without an audit).
func (r *Report) AuditBorders() []AuditBorder {
	a := r.Audit
	if a == nil {
		return nil
	}
	var out []AuditBorder
	idx := map[string]int{}
	for _, d := range a.Declared {
		idx[d.Border] = len(out)
		out = append(out, AuditBorder{Border: d.Border, Policy: d.Policy, Version: d.Version, Index: d.Index, Rules: len(d.Rules)})
	}
	for _, n := range a.NotSeen {
		s := n.Rule
		if n.Fired > 0 {
			s += fmt.Sprintf(" (fired %d, on nothing measured)", n.Fired)
		}
		if i, ok := idx[n.Border]; ok {
			out[i].NotSeen = append(out[i].NotSeen, s)
		}
	}
	for _, u := range a.Undeclared {
		i, ok := idx[u.Border]
		if !ok {
			idx[u.Border] = len(out)
			i = len(out)
			out = append(out, AuditBorder{Border: u.Border, Index: -1})
		}
		out[i].Undeclared = append(out[i].Undeclared, Undeclared(u))
	}
	return out
}

// Undeclared describes one finding in a line.
func Undeclared(u score.Undeclared) string {
	var why string
	switch u.Reason {
	case score.NoLoggedVersion:
		why = "the border cites no logged version"
	case score.OtherVersion:
		why = fmt.Sprintf("the decisions cite log index %d, not the version the border declared", *u.Index)
	case score.RuleNotLogged:
		why = fmt.Sprintf("rule %s is not in the logged version (index %d)", u.Rule, *u.Index)
	case score.ItemNotLogged:
		why = fmt.Sprintf("rule %s matched %q, which no list of the logged version (index %d) holds", u.Rule, u.Item, *u.Index)
	default:
		why = string(u.Reason)
	}
	s := fmt.Sprintf("%s: %d decisions", why, u.Decisions)
	if len(u.Blocked) > 0 {
		var bs []string
		for i, b := range u.Blocked {
			if i == 5 {
				bs = append(bs, fmt.Sprintf("… %d more", len(u.Blocked)-i))
				break
			}
			bs = append(bs, fmt.Sprintf("%s from %s: %s", b.Domain, b.Vantage, b.Verdict))
		}
		s += fmt.Sprintf(", %d blocked measurements (%s)", len(u.Blocked), strings.Join(bs, "; "))
	}
	return s
}

// writeAudit prints the audit for the terminal, if there is one.
func (r *Report) writeAudit(w io.Writer) {
	a := r.Audit
	if a == nil {
		return
	}
	notSeen := 0
	for _, b := range r.AuditBorders() {
		notSeen += len(b.NotSeen)
	}
	fmt.Fprintf(w, "\nAudit against the transparency log: %d borders cite logged versions; %d undeclared, %d logged rules seen, %d declared but not seen\n",
		len(a.Declared), len(a.Undeclared), a.Seen, notSeen)
	for _, b := range r.AuditBorders() {
		head := fmt.Sprintf("  %-22s", b.Border)
		if b.Index >= 0 {
			head += fmt.Sprintf(" index %-4d %s %s", b.Index, b.Policy, b.Version)
		}
		fmt.Fprintln(w, strings.TrimRight(head, " "))
		for _, u := range b.Undeclared {
			fmt.Fprintf(w, "      UNDECLARED %s\n", u)
		}
		if len(b.NotSeen) > 0 {
			fmt.Fprintf(w, "      declared, not seen: %s\n", strings.Join(b.NotSeen, ", "))
		}
	}
}

const auditHTML = `{{if .Audit}}<section>
<h2>What the borders declared, and what they did</h2>
<p class="sub">Every border enforces a policy version from the transparency log and cites its index in each decision. <b>Undeclared</b>: decisions that no rule of the logged version explains (a rule it does not have, or a list item none of its lists holds), with the blocked measurements they caused. <b>Declared, not seen</b>: logged rules that no measurement of this run observed.</p>
{{if .Audit.Undeclared}}<p class="flag">{{len .Audit.Undeclared}} undeclared finding(s): what these borders block is not what they published.</p>{{else}}<p>No undeclared blocking: every decision is explained by the logged version its border cites.</p>{{end}}
<div class="scroll"><table><tr><th>border</th><th>log index</th><th>policy version</th><th>rules</th><th style="text-align:left">findings</th></tr>
{{range .AuditBorders}}<tr><td><b>{{.Border}}</b></td><td>{{if ge .Index 0}}{{.Index}}{{else}}—{{end}}</td><td>{{.Policy}} {{.Version}}</td><td>{{.Rules}}</td><td style="text-align:left">{{range .Undeclared}}<div class="flag">undeclared: {{.}}</div>{{end}}{{if .NotSeen}}<div class="rules">declared, not seen: {{range $i, $r := .NotSeen}}{{if $i}}, {{end}}{{$r}}{{end}}</div>{{end}}</td></tr>
{{end}}</table></div>
</section>
{{end}}`

var _ = template.Must(page.New("audit").Parse(auditHTML))
