package governance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/policylog"
)

// Apply returns the policy version that results from applying a names
// change to pv: the names added to (or removed from) the list c.List of
// the policy, as inline items, and removed from the list's "lines" files
// too. The new version is labelled "<version>+<proposal>", takes effect on
// c.Effective and names the proposal as its cause; it is loaded and
// validated before it is returned. Technique and root-zone changes are not
// policy edits this package can make: they return an error.
func (c PolicyChange) Apply(pv *policylog.PolicyVersion) (*policylog.PolicyVersion, error) {
	if c.Kind != NameChange {
		return nil, fmt.Errorf("governance: %s: a %s change is not a list edit; the lab applies it", c.Proposal, c.Kind)
	}
	out := *pv
	out.Files = slices.Clone(pv.Files)
	mi := slices.IndexFunc(out.Files, func(f policylog.File) bool { return f.Path == pv.Main })
	if mi < 0 {
		return nil, fmt.Errorf("governance: policy version %s has no main file", pv.Version)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out.Files[mi].Data, &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("governance: policy %s: %v", pv.Name, err)
	}
	list := lookup(lookup(doc.Content[0], "lists"), c.List)
	if list == nil || list.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("governance: %s: policy %s (%s) has no list %q", c.Proposal, pv.Name, pv.Jurisdiction, c.List)
	}
	items := lookup(list, "items")
	if items == nil {
		items = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "items"}, items)
	}
	has := func(s string) bool {
		return slices.ContainsFunc(items.Content, func(n *yaml.Node) bool { return strings.EqualFold(n.Value, s) })
	}
	for _, a := range c.Add {
		if !has(a) {
			items.Content = append(items.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: a})
		}
	}
	items.Content = slices.DeleteFunc(items.Content, func(n *yaml.Node) bool {
		return slices.ContainsFunc(c.Remove, func(r string) bool { return strings.EqualFold(n.Value, r) })
	})
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	out.Files[mi] = policylog.File{Path: pv.Main, Data: b.Bytes()}

	// Names read from the list's plain files are removed there.
	if from := lookup(list, "from"); from != nil && len(c.Remove) > 0 {
		for _, src := range from.Content {
			file, format := lookup(src, "file"), lookup(src, "format")
			if file == nil || (format != nil && format.Value != "lines") {
				continue
			}
			fi := slices.IndexFunc(out.Files, func(f policylog.File) bool { return f.Path == file.Value })
			if fi < 0 {
				continue
			}
			var kept []string
			for _, line := range strings.SplitAfter(string(out.Files[fi].Data), "\n") {
				if !slices.ContainsFunc(c.Remove, func(r string) bool { return strings.EqualFold(strings.TrimSpace(line), r) }) {
					kept = append(kept, line)
				}
			}
			out.Files[fi] = policylog.File{Path: file.Value, Data: []byte(strings.Join(kept, ""))}
		}
	}
	out.Version = pv.Version + "+" + c.Proposal
	out.Effective = c.Effective
	out.Cause = c.Proposal
	if _, err := out.Policy(); err != nil {
		return nil, fmt.Errorf("governance: %s applied to %s: %w", c.Proposal, pv.Name, err)
	}
	return &out, nil
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
