package policylog

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/splinter-lab/splinter/policy"
)

// ChangeOp says whether something was added, removed or changed.
type ChangeOp string

// Change operations.
const (
	Added   ChangeOp = "+"
	Removed ChangeOp = "-"
	Changed ChangeOp = "~"
)

// Change is one difference between two policy versions. Path names the
// element in the policy's YAML terms: "meta.effective", "lists.names" (a
// list), "lists.names[]" (an item of it, in New or Old),
// "rules[cn-http]" (a rule, by ID), "rules[cn-http].scope.probability".
type Change struct {
	Op   ChangeOp
	Path string
	// Old and New render the values ("" for the side that has none).
	Old, New string
}

func (c Change) String() string {
	switch c.Op {
	case Added:
		return fmt.Sprintf("+ %s: %s", c.Path, c.New)
	case Removed:
		return fmt.Sprintf("- %s: %s", c.Path, c.Old)
	}
	return fmt.Sprintf("~ %s: %s -> %s", c.Path, c.Old, c.New)
}

// PolicyDiff is what changed from one policy version to another: metadata,
// then lists (added and removed lists, then item by item), then rules (by
// ID; a changed rule field by field, its matchers and actions one by one).
type PolicyDiff struct {
	From, To string // "name version"
	Changes  []Change
}

// String prints a header and one change per line.
func (d *PolicyDiff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", d.From, d.To)
	for _, c := range d.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Diff compares two policy versions as a border would load them.
func Diff(a, b *PolicyVersion) (*PolicyDiff, error) {
	pa, err := a.Policy()
	if err != nil {
		return nil, err
	}
	pb, err := b.Policy()
	if err != nil {
		return nil, err
	}
	d := DiffPolicies(pa, pb)
	d.From, d.To = a.Name+" "+a.Version, b.Name+" "+b.Version
	if a.Effective != b.Effective {
		d.Changes = slices.Insert(d.Changes, 0, Change{Op: Changed, Path: "version.effective", Old: a.Effective.String(), New: b.Effective.String()})
	}
	return d, nil
}

// DiffPolicies compares two loaded policies.
func DiffPolicies(a, b *policy.Policy) *PolicyDiff {
	d := &PolicyDiff{From: a.Name, To: b.Name}
	add := func(op ChangeOp, path, old, new string) {
		d.Changes = append(d.Changes, Change{Op: op, Path: path, Old: old, New: new})
	}
	if a.Name != b.Name {
		add(Changed, "name", a.Name, b.Name)
	}
	d.fields("meta", reflect.ValueOf(a.Meta), reflect.ValueOf(b.Meta))
	d.fields("tcp", reflect.ValueOf(a.TCP), reflect.ValueOf(b.TCP))

	names := slices.Sorted(maps.Keys(a.Lists))
	for n := range maps.Keys(b.Lists) {
		if _, ok := a.Lists[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		la, lb := a.Lists[n], b.Lists[n]
		path := "lists." + n
		switch {
		case la == nil:
			add(Added, path, "", fmt.Sprintf("%s list, %d items", lb.Kind, len(lb.Items)))
			for _, it := range sortedSet(lb.Items) {
				add(Added, path+"[]", "", it)
			}
			continue
		case lb == nil:
			add(Removed, path, fmt.Sprintf("%s list, %d items", la.Kind, len(la.Items)), "")
			continue
		}
		if la.Kind != lb.Kind {
			add(Changed, path+".kind", string(la.Kind), string(lb.Kind))
		}
		if ra, rb := render(reflect.ValueOf(la.From)), render(reflect.ValueOf(lb.From)); ra != rb {
			add(Changed, path+".from", ra, rb)
		}
		sa, sb := sortedSet(la.Items), sortedSet(lb.Items)
		for _, it := range sa {
			if _, found := slices.BinarySearch(sb, it); !found {
				add(Removed, path+"[]", it, "")
			}
		}
		for _, it := range sb {
			if _, found := slices.BinarySearch(sa, it); !found {
				add(Added, path+"[]", "", it)
			}
		}
	}

	byID := func(rs []policy.Rule) map[string]*policy.Rule {
		m := map[string]*policy.Rule{}
		for i := range rs {
			m[rs[i].ID] = &rs[i]
		}
		return m
	}
	ra, rb := byID(a.Rules), byID(b.Rules)
	for _, r := range a.Rules {
		if rb[r.ID] == nil {
			add(Removed, "rules["+r.ID+"]", r.Description, "")
		}
	}
	for _, r := range b.Rules {
		old := ra[r.ID]
		path := "rules[" + r.ID + "]"
		if old == nil {
			add(Added, path, "", r.Description)
			continue
		}
		for _, f := range []struct {
			name   string
			va, vb any
		}{
			{"description", old.Description, r.Description},
			{"source", old.Source, r.Source},
			{"year", old.Year, r.Year},
		} {
			if f.va != f.vb {
				add(Changed, path+"."+f.name, fmt.Sprint(f.va), fmt.Sprint(f.vb))
			}
		}
		d.fields(path+".scope", reflect.ValueOf(old.Scope), reflect.ValueOf(r.Scope))
		d.fields(path+".inspect", reflect.ValueOf(old.Inspect), reflect.ValueOf(r.Inspect))
		d.modules(path+".match", toAny(old.Match), toAny(r.Match))
		d.modules(path+".actions", toAny(old.Actions), toAny(r.Actions))
	}
	return d
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// modules compares matchers or actions position by position.
func (d *PolicyDiff) modules(path string, a, b []any) {
	for i := 0; i < max(len(a), len(b)); i++ {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case i >= len(a):
			d.Changes = append(d.Changes, Change{Op: Added, Path: p, New: renderModule(b[i])})
		case i >= len(b):
			d.Changes = append(d.Changes, Change{Op: Removed, Path: p, Old: renderModule(a[i])})
		default:
			if ra, rb := renderModule(a[i]), renderModule(b[i]); ra != rb {
				d.Changes = append(d.Changes, Change{Op: Changed, Path: p, Old: ra, New: rb})
			}
		}
	}
}

func renderModule(m any) string {
	k, _ := m.(interface{ Kind() string })
	kind := ""
	if k != nil {
		kind = k.Kind()
	}
	return kind + " " + render(reflect.ValueOf(m))
}

// fields compares two structs of the same type field by field (YAML names).
func (d *PolicyDiff) fields(path string, a, b reflect.Value) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		ra, rb := render(a.Field(i)), render(b.Field(i))
		if ra != rb {
			d.Changes = append(d.Changes, Change{Op: Changed, Path: path + "." + name, Old: ra, New: rb})
		}
	}
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	if !f.IsExported() || tag == "" || tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	return name
}

// render writes a value compactly in YAML flow style, using String
// methods where the type has one and YAML field names, skipping zero
// fields.
func render(v reflect.Value) string {
	if !v.IsValid() {
		return "null"
	}
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.CanInterface() {
		if s, ok := v.Interface().(fmt.Stringer); ok {
			return s.String()
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "null"
		}
		return render(v.Elem())
	case reflect.Struct:
		var parts []string
		for i := 0; i < v.NumField(); i++ {
			name := yamlName(v.Type().Field(i))
			if name == "" || v.Field(i).IsZero() {
				continue
			}
			parts = append(parts, name+": "+render(v.Field(i)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = render(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = render(k) + ": " + render(v.MapIndex(k))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.String:
		return strconv.Quote(v.String())
	}
	return fmt.Sprint(v.Interface())
}

func sortedSet(items []string) []string {
	s := slices.Clone(items)
	slices.Sort(s)
	return slices.Compact(s)
}
