package strategy

import (
	"strconv"
	"strings"
)

// Strategy is a parsed strategy: a forest of action trees for the packets a
// host sends (Outbound, left of `\/`) and one for those it receives
// (Inbound, right of it). The zero value is the empty strategy `\/`, which
// lets every packet through unchanged.
type Strategy struct {
	Outbound []Tree
	Inbound  []Tree
}

// Tree is one action tree: `[trigger]-action-|`. A nil Root is the empty
// tree `[trigger]-|`, which in Geneva sends nothing: a packet it triggers
// on is dropped (actions/tree.py: do_run yields None for an empty tree and
// run() keeps only packets that are not None).
type Tree struct {
	Trigger Trigger
	Root    *Action
}

// Trigger selects the packets a tree applies to: those whose Field equals
// Value (or, with Wildcard, contains it), while gas lasts.
type Trigger struct {
	Field    Field
	Value    Value
	Wildcard bool
	// HasGas limits how often the tree fires (actions/trigger.py): with
	// Gas > 0 it fires on the first Gas matching packets only; with Gas == 0
	// never; with Gas < 0 (a "bomb") it ignores the first -Gas matching
	// packets and fires on every one after.
	HasGas bool
	Gas    int
}

// Value is a literal in a trigger or a tamper, as written (Text) and, when
// it is an integer, as a number.
type Value struct {
	Text  string
	Num   int64
	IsNum bool
}

// NumValue returns an integer Value.
func NumValue(n int64) Value { return Value{Text: strconv.FormatInt(n, 10), Num: n, IsNum: true} }

// TextValue returns a Value from its text, a number if Python's int() would
// read it as one (Geneva's layers/layer.py: Layer.parse).
func TextValue(s string) Value {
	if n, ok := parseInt(s); ok {
		return Value{Text: strconv.FormatInt(n, 10), Num: n, IsNum: true}
	}
	return Value{Text: s}
}

func parseInt(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	t := s
	if t[0] == '+' || t[0] == '-' {
		t = t[1:]
	}
	if t == "" {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (v Value) String() string { return v.Text }

// Kind is what an action does.
type Kind uint8

// The actions of Geneva (actions/*.py). Send is the paper's name for the
// leaf that lets a packet go; Geneva writes it as an empty child.
const (
	Send Kind = iota + 1
	Drop
	Duplicate
	Tamper
	Fragment
	Sleep
)

func (k Kind) String() string {
	switch k {
	case Send:
		return "send"
	case Drop:
		return "drop"
	case Duplicate:
		return "duplicate"
	case Tamper:
		return "tamper"
	case Fragment:
		return "fragment"
	case Sleep:
		return "sleep"
	}
	return "?"
}

// Mode is how a tamper changes its field.
type Mode uint8

// Tamper modes (actions/tamper.py: SUPPORTED_PRIMITIVES). Geneva's fourth,
// compress, applies to DNS only and is refused with the DNS layers.
const (
	Replace Mode = iota + 1
	Corrupt
	Add
)

func (m Mode) String() string {
	switch m {
	case Replace:
		return "replace"
	case Corrupt:
		return "corrupt"
	case Add:
		return "add"
	}
	return "?"
}

// Action is a node of an action tree. Which fields matter depends on Kind.
// Left and Right are the children: nil means the packet is sent as it is.
// Only Duplicate and Fragment have a Right child; Drop and Send have none.
type Action struct {
	Kind Kind

	// Tamper: Field changed by Mode; Value for Replace and Add.
	Field Field
	Mode  Mode
	Value Value

	// Fragment: Segment chooses TCP segmentation over IP fragmentation;
	// Size is the first part's payload length (bytes for TCP, 8-byte units
	// for IP), -1 for half; InOrder sends the first part first; Overlap
	// bytes of the second part are repeated at the end of the first (TCP).
	Segment bool
	Size    int
	InOrder bool
	Overlap int

	// Sleep: seconds to hold the packet back.
	Seconds float64

	Left, Right *Action
}

// String returns the strategy's canonical DNA: the outbound forest, `\/`,
// the inbound forest, trees separated by one space. Parse(s.String())
// yields a Strategy equal to s.
func (s *Strategy) String() string {
	var b strings.Builder
	writeForest(&b, s.Outbound)
	if len(s.Outbound) > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(`\/`)
	if len(s.Inbound) > 0 {
		b.WriteByte(' ')
	}
	writeForest(&b, s.Inbound)
	return b.String()
}

func writeForest(b *strings.Builder, trees []Tree) {
	for i := range trees {
		if i > 0 {
			b.WriteByte(' ')
		}
		trees[i].write(b)
	}
}

// String returns the tree's canonical DNA, `[trigger]-actions-|`.
func (t *Tree) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t *Tree) write(b *strings.Builder) {
	b.WriteByte('[')
	b.WriteString(t.Trigger.String())
	b.WriteString("]-")
	if t.Root != nil {
		if t.Root.Kind == Send {
			b.WriteString("send")
		} else {
			t.Root.write(b)
		}
		b.WriteByte('-')
	}
	b.WriteByte('|')
}

// String returns PROTO:field:value[:gas], with * after a wildcard value.
func (t Trigger) String() string {
	s := t.Field.String() + ":" + t.Value.Text
	if t.Wildcard {
		s += "*"
	}
	if t.HasGas {
		s += ":" + strconv.Itoa(t.Gas)
	}
	return s
}

// String returns the action and its subtree in canonical DNA.
func (a *Action) String() string {
	var b strings.Builder
	a.write(&b)
	return b.String()
}

func (a *Action) write(b *strings.Builder) {
	if a == nil || a.Kind == Send {
		return
	}
	b.WriteString(a.Kind.String())
	switch a.Kind {
	case Tamper:
		b.WriteByte('{')
		b.WriteString(a.Field.String())
		b.WriteByte(':')
		b.WriteString(a.Mode.String())
		if a.Mode != Corrupt {
			b.WriteByte(':')
			b.WriteString(a.Value.Text)
		}
		b.WriteByte('}')
	case Fragment:
		b.WriteByte('{')
		if a.Segment {
			b.WriteString("tcp:")
		} else {
			b.WriteString("ip:")
		}
		b.WriteString(strconv.Itoa(a.Size))
		if a.InOrder {
			b.WriteString(":True")
		} else {
			b.WriteString(":False")
		}
		if a.Overlap != 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(a.Overlap))
		}
		b.WriteByte('}')
	case Sleep:
		b.WriteByte('{')
		b.WriteString(strconv.FormatFloat(a.Seconds, 'g', -1, 64))
		b.WriteByte('}')
	}
	l, r := a.Left, a.Right
	if l != nil && l.Kind == Send {
		l = nil
	}
	if r != nil && r.Kind == Send {
		r = nil
	}
	if l == nil && r == nil {
		return
	}
	b.WriteByte('(')
	l.write(b)
	b.WriteByte(',')
	r.write(b)
	b.WriteByte(')')
}
