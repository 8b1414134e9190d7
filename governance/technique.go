package governance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/policylog"
)

// ApplyTechnique returns the policy version that results from adopting a
// technique change in pv: the rule whose ID is c.Technique, copied from the
// template version tmpl (a profile that has it), appended to pv's rules.
// The rule uses pv's own lists where pv has a list of the name it refers
// to (the technique applied to the state's own names); a list pv lacks is
// copied from the template, items inline; a file the rule reads (a block
// page's body-file) is copied into the bundle. The new version is
// labelled "<version>+<proposal>", takes effect on c.Effective and names
// the proposal as its cause; it is loaded and validated before it is
// returned. A policy that already has a rule of that ID is an error.
func (c PolicyChange) ApplyTechnique(pv, tmpl *policylog.PolicyVersion) (*policylog.PolicyVersion, error) {
	if c.Kind != Technique {
		return nil, fmt.Errorf("governance: %s: a %s change is not a technique", c.Proposal, c.Kind)
	}
	doc, err := mainDoc(pv)
	if err != nil {
		return nil, err
	}
	tdoc, err := mainDoc(tmpl)
	if err != nil {
		return nil, err
	}
	rule := findRule(lookup(tdoc, "rules"), c.Technique)
	if rule == nil {
		return nil, fmt.Errorf("governance: %s: template %s has no rule %q", c.Proposal, tmpl.Name, c.Technique)
	}
	rules := lookup(doc, "rules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("governance: policy %s has no rules", pv.Name)
	}
	if findRule(rules, c.Technique) != nil {
		return nil, fmt.Errorf("governance: %s: policy %s (%s) already has rule %q", c.Proposal, pv.Name, pv.Jurisdiction, c.Technique)
	}
	tpol, err := tmpl.Policy()
	if err != nil {
		return nil, err
	}
	out := *pv
	out.Files = slices.Clone(pv.Files)
	rule = clone(rule)
	lists := lookup(doc, "lists")
	var refErr error
	walk(rule, func(key, val *yaml.Node) {
		switch {
		case key.Value == "list" || strings.HasSuffix(key.Value, "-list"):
			if val.Kind != yaml.ScalarNode || val.Value == "" || lookup(lists, val.Value) != nil {
				return
			}
			l := tpol.Lists[val.Value]
			if l == nil {
				refErr = fmt.Errorf("governance: %s: template %s has no list %q", c.Proposal, tmpl.Name, val.Value)
				return
			}
			if lists == nil {
				lists = &yaml.Node{Kind: yaml.MappingNode}
				doc.Content = append(doc.Content, scalar("lists"), lists)
			}
			items := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, it := range l.Items {
				items.Content = append(items.Content, scalar(it))
			}
			def := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{scalar("kind"), scalar(string(l.Kind)), scalar("items"), items}}
			lists.Content = append(lists.Content, scalar(val.Value), def)
		case key.Value == "box" && val.Kind == yaml.ScalarNode:
			// The rule's TCP box comes with it when the policy lacks one of
			// that name (the rules already there keep the box they ran on).
			if err := copyBox(doc, tdoc, val.Value); err != nil {
				refErr = fmt.Errorf("governance: %s: %w", c.Proposal, err)
			}
		case key.Value == "body-file" && val.Kind == yaml.ScalarNode:
			i := slices.IndexFunc(tmpl.Files, func(f policylog.File) bool { return f.Path == val.Value })
			if i < 0 {
				refErr = fmt.Errorf("governance: %s: template %s lacks file %q", c.Proposal, tmpl.Name, val.Value)
				return
			}
			j := slices.IndexFunc(out.Files, func(f policylog.File) bool { return f.Path == val.Value })
			switch {
			case j < 0:
				out.Files = append(out.Files, tmpl.Files[i])
			case !bytes.Equal(out.Files[j].Data, tmpl.Files[i].Data):
				refErr = fmt.Errorf("governance: %s: policy %s has another file at %q", c.Proposal, pv.Name, val.Value)
			}
		}
	})
	if refErr != nil {
		return nil, refErr
	}
	rules.Content = append(rules.Content, rule)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	mi := slices.IndexFunc(out.Files, func(f policylog.File) bool { return f.Path == pv.Main })
	out.Files[mi] = policylog.File{Path: pv.Main, Data: b.Bytes()}
	slices.SortStableFunc(out.Files[1:], func(a, b policylog.File) int { return strings.Compare(a.Path, b.Path) })
	out.Version = pv.Version + "+" + c.Proposal
	out.Effective = c.Effective
	out.Cause = c.Proposal
	if _, err := out.Policy(); err != nil {
		return nil, fmt.Errorf("governance: %s applied to %s: %w", c.Proposal, pv.Name, err)
	}
	return &out, nil
}

// mainDoc parses a version's policy YAML and returns its top mapping.
func mainDoc(pv *policylog.PolicyVersion) (*yaml.Node, error) {
	i := slices.IndexFunc(pv.Files, func(f policylog.File) bool { return f.Path == pv.Main })
	if i < 0 {
		return nil, fmt.Errorf("governance: policy version %s has no main file", pv.Version)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(pv.Files[i].Data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("governance: policy %s: not a YAML mapping (%v)", pv.Name, err)
	}
	return doc.Content[0], nil
}

// findRule returns the rule of that ID in a rules sequence, or nil.
func findRule(rules *yaml.Node, id string) *yaml.Node {
	if rules == nil {
		return nil
	}
	for _, r := range rules.Content {
		if v := lookup(r, "id"); v != nil && v.Value == id {
			return r
		}
	}
	return nil
}

// walk calls f for every key and value of every mapping under n.
func walk(n *yaml.Node, f func(key, val *yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			f(n.Content[i], n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walk(c, f)
	}
}

func clone(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		// A copy stands outside the document that holds the anchor.
		c := clone(n.Alias)
		c.Anchor = ""
		return c
	}
	c := *n
	c.Anchor = ""
	c.Content = nil
	for _, k := range n.Content {
		c.Content = append(c.Content, clone(k))
	}
	return &c
}

// copyBox adds the template's TCP box name to doc's tcp.boxes unless doc
// has one of that name. A policy that declared no boxes ran its rules on
// policy.DefaultTCPBox: it keeps doing so under the name "default".
func copyBox(doc, tdoc *yaml.Node, name string) error {
	tbox := lookup(lookup(lookup(tdoc, "tcp"), "boxes"), name)
	if tbox == nil {
		return fmt.Errorf("the template declares no TCP box %q", name)
	}
	tcp := lookup(doc, "tcp")
	if tcp == nil {
		tcp = &yaml.Node{Kind: yaml.MappingNode}
		doc.Content = append(doc.Content, scalar("tcp"), tcp)
	}
	boxes := lookup(tcp, "boxes")
	if boxes == nil {
		boxes = &yaml.Node{Kind: yaml.MappingNode}
		tcp.Content = append(tcp.Content, scalar("boxes"), boxes)
		var def yaml.Node
		if err := def.Encode(policy.DefaultTCPBox()); err != nil {
			return err
		}
		boxes.Content = append(boxes.Content, scalar("default"), &def)
		if lookup(tcp, "default") == nil {
			tcp.Content = append(tcp.Content, scalar("default"), scalar("default"))
		}
	}
	if lookup(boxes, name) == nil {
		boxes.Content = append(boxes.Content, scalar(name), clone(tbox))
	}
	return nil
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
