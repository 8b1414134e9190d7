package strategy

import (
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/splinter-lab/splinter/packet"
)

// What a genetic search over the language needs (Geneva's evolve.py and
// the mutate/mate methods of actions/*.py): random strategies, mutation,
// crossover, and a size to penalize. Every Strategy these return prints
// as DNA that Parse reads back to an equal Strategy.

// Gen configures random generation and mutation. The zero value is
// usable: one outbound tree of up to two actions, no inbound tree.
type Gen struct {
	// OutTrees and InTrees are how many trees a new strategy has in each
	// direction; OutActions and InActions how many actions each tree is
	// built from (Geneva's evolve.py: --out-trees, --out-actions...).
	// A zero OutTrees and OutActions mean 1 and 2.
	OutTrees, InTrees     int
	OutActions, InActions int
	// Packets, when set, are raw packets seen on the wire (Geneva reads the
	// last evaluation's capture): half of the triggers and tamper values
	// are then taken from one of them, so that triggers fire.
	Packets [][]byte
	// Disabled are actions never drawn for a new tree node (Geneva's
	// evolve.py --disable-action, which leaves sleep and trace out by
	// default, as Gen always does). Strategies that already hold them,
	// seeds for instance, keep them. Disabling tamper, duplicate,
	// fragment and drop all leaves tamper drawn.
	Disabled []Kind
}

// Size is the number of actions in the strategy, what Geneva subtracts
// from a successful strategy's fitness (actions/utils.py:
// punish_complexity counts len(strategy)). An explicit send counts as
// none, an empty tree as none.
func (s *Strategy) Size() int {
	n := 0
	for _, ts := range [][]Tree{s.Outbound, s.Inbound} {
		for i := range ts {
			n += ts[i].Root.size()
		}
	}
	return n
}

func (a *Action) size() int {
	if a == nil || a.Kind == Send {
		return 0
	}
	return 1 + a.Left.size() + a.Right.size()
}

// Clone returns a deep copy.
func (s *Strategy) Clone() *Strategy {
	c := &Strategy{}
	for _, t := range s.Outbound {
		c.Outbound = append(c.Outbound, Tree{Trigger: t.Trigger, Root: t.Root.clone()})
	}
	for _, t := range s.Inbound {
		c.Inbound = append(c.Inbound, Tree{Trigger: t.Trigger, Root: t.Root.clone()})
	}
	return c
}

func (a *Action) clone() *Action {
	if a == nil {
		return nil
	}
	c := *a
	c.Left, c.Right = a.Left.clone(), a.Right.clone()
	return &c
}

func (g Gen) defaults() Gen {
	if g.OutTrees == 0 && g.InTrees == 0 {
		g.OutTrees = 1
	}
	if g.OutActions == 0 {
		g.OutActions = 2
	}
	if g.InActions == 0 {
		g.InActions = 1
	}
	return g
}

// Random returns a new random strategy (Geneva's Strategy.init_from_scratch).
func (g Gen) Random(r *rand.Rand) *Strategy {
	g = g.defaults()
	s := &Strategy{}
	for i := 0; i < g.OutTrees; i++ {
		s.Outbound = append(s.Outbound, g.randomTree(r, false, g.OutActions))
	}
	for i := 0; i < g.InTrees; i++ {
		s.Inbound = append(s.Inbound, g.randomTree(r, true, g.InActions))
	}
	return s
}

func (g Gen) randomTree(r *rand.Rand, inbound bool, actions int) Tree {
	t := Tree{Trigger: g.randomTrigger(r)}
	for i := 0; i < actions; i++ {
		t.Root = addAction(r, t.Root, g.randomAction(r, inbound))
	}
	return t
}

// randomTrigger draws a field trigger on a header field (Geneva does not
// trigger on options or loads: actions/trigger.py get_rand_trigger), with
// gas a fifth of the time.
func (g Gen) randomTrigger(r *rand.Rand) Trigger {
	for {
		f := Field(1 + r.IntN(int(numFields)-1))
		if k := f.info().kind; k == kindLoad || k == kindOption || f == IPChksum || f == TCPChksum || f == UDPChksum {
			continue
		}
		t := Trigger{Field: f, Value: g.randomValue(r, f, true)}
		if r.IntN(5) == 0 {
			t.HasGas, t.Gas = true, r.IntN(5)
		}
		return t
	}
}

// randomValue draws a value for f that Parse accepts: from a seen packet
// half the time when there are some, else at random.
func (g Gen) randomValue(r *rand.Rand, f Field, trigger bool) Value {
	if len(g.Packets) > 0 && r.IntN(2) == 0 {
		var p packet.IP
		pkt := g.Packets[r.IntN(len(g.Packets))]
		if packet.Parse(pkt, &p) == nil {
			var w wire
			w.load(pkt, &p)
			if w.has(f) {
				v := w.get(f)
				switch {
				case v.isNum && f.info().kind == kindTCPFlags:
					return Value{Text: tcpFlagsString(uint16(v.num))}
				case v.isNum:
					return NumValue(v.num)
				case !v.opaque && f.info().kind != kindLoad && f.info().kind != kindOption && !(f.info().kind == kindAddr && !isIPv4Text(v.str)):
					return TextValue(v.str)
				}
			}
		}
	}
	in := f.info()
	switch in.kind {
	case kindNum:
		return NumValue(r.Int64N(int64(1) << in.bits))
	case kindTCPFlags:
		common := [...]string{"S", "A", "SA", "PA", "FA", "R", "P", "F", "RA", ""}
		if r.IntN(2) == 0 {
			return Value{Text: common[r.IntN(len(common))]}
		}
		return Value{Text: tcpFlagsString(uint16(r.IntN(512)))}
	case kindIPFlags:
		return Value{Text: ipFlagsString(uint8(r.IntN(8)))}
	case kindAddr:
		// an address of the emulated world's benchmarking range
		a := netip.AddrFrom4([4]byte{198, byte(18 + r.IntN(2)), byte(r.IntN(256)), byte(r.IntN(256))})
		return Value{Text: a.String()}
	case kindLoad:
		loads := [...]string{"", "__DNS_REQUEST__", "__HTTP_REQUEST__", "x"}
		return Value{Text: loads[r.IntN(len(loads))]}
	case kindOption:
		switch in.opt {
		case 2:
			return NumValue(r.Int64N(65536))
		case 3, 14, 28:
			return NumValue(r.Int64N(256))
		case 8:
			return NumValue(r.Int64N(4294967295))
		case 19:
			var b [16]byte
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return Value{Text: hex.EncodeToString(b[:])}
		}
		return Value{}
	}
	return Value{}
}

func isIPv4Text(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// randomAction draws an action with Geneva's frequencies (tamper 5,
// duplicate 3, fragment 2, drop 1; sleep and trace are never drawn).
// Inbound trees get tamper and drop only.
func (g Gen) randomAction(r *rand.Rand, inbound bool) *Action {
	for range 64 {
		a := g.drawAction(r, inbound)
		if !slices.Contains(g.Disabled, a.Kind) {
			return a
		}
	}
	return g.randomTamper(r)
}

func (g Gen) drawAction(r *rand.Rand, inbound bool) *Action {
	n := r.IntN(11)
	if inbound {
		n = r.IntN(6)
		if n == 5 {
			n = 10
		}
	}
	switch {
	case n < 5:
		return g.randomTamper(r)
	case n < 8:
		return &Action{Kind: Duplicate}
	case n < 10:
		return randomFragment(r, &Action{Kind: Fragment})
	}
	return &Action{Kind: Drop}
}

func (g Gen) randomTamper(r *rand.Rand) *Action {
	f := Field(1 + r.IntN(int(numFields)-1))
	a := &Action{Kind: Tamper, Field: f, Mode: Replace}
	if r.IntN(2) == 0 {
		a.Mode = Corrupt
		return a
	}
	a.Value = g.randomValue(r, f, false)
	if f.info().kind == kindLoad {
		a.Value = Value{Text: a.Value.Text}
	}
	return a
}

// randomFragment is FragmentAction.mutate (actions/fragment.py).
func randomFragment(r *rand.Rand, a *Action) *Action {
	a.InOrder = r.IntN(2) == 0
	a.Segment = r.IntN(4) != 0
	a.Size = -1
	if a.Segment && r.IntN(2) == 0 {
		a.Size = 1 + r.IntN(59)
	} else if !a.Segment && r.IntN(5) == 0 {
		a.Size = 1 + r.IntN(49)
	}
	a.Overlap = 0
	if r.IntN(2) == 0 {
		if r.IntN(2) == 0 {
			a.Overlap = 5
			if a.Size != -1 {
				a.Overlap = a.Size / 2
			}
		} else {
			a.Overlap = 1 + r.IntN(49)
		}
	}
	return a
}

// slots counts the places a new action can go: the empty left child of an
// action that is not terminal, the empty right child of a branching one
// (actions/tree.py: get_slots).
func slots(a *Action) int {
	if a == nil || a.Kind == Drop || a.Kind == Send {
		return 0
	}
	n := slots(a.Left) + slots(a.Right)
	if a.Left == nil {
		n++
	}
	if a.Right == nil && (a.Kind == Duplicate || a.Kind == Fragment) {
		n++
	}
	return n
}

// addAction puts n in a slot drawn uniformly (actions/tree.py:
// add_action) and returns the root.
func addAction(r *rand.Rand, root, n *Action) *Action {
	if root == nil || root.Kind == Send {
		return n
	}
	k := slots(root)
	if k == 0 {
		return root
	}
	pick := r.IntN(k)
	var walk func(a *Action) bool
	walk = func(a *Action) bool {
		if a == nil || a.Kind == Drop || a.Kind == Send {
			return false
		}
		if a.Left == nil {
			if pick == 0 {
				a.Left = n
				return true
			}
			pick--
		} else if walk(a.Left) {
			return true
		}
		if a.Kind == Duplicate || a.Kind == Fragment {
			if a.Right == nil {
				if pick == 0 {
					a.Right = n
					return true
				}
				pick--
			} else if walk(a.Right) {
				return true
			}
		}
		return false
	}
	walk(root)
	return root
}

// nodes lists a tree's actions in preorder with a pointer to the link that
// holds each, so that one can be replaced.
func nodes(link **Action, out []**Action) []**Action {
	a := *link
	if a == nil || a.Kind == Send {
		return out
	}
	out = append(out, link)
	out = nodes(&a.Left, out)
	return nodes(&a.Right, out)
}

// Mutate returns a mutated copy of s (actions/strategy.py: mutate_dir,
// actions/tree.py: mutate): per direction, a tenth of the time a new tree,
// a tenth a tree removed, a twentieth the trees shuffled; otherwise every
// tree mutates: an action added, an action changed, the trigger redrawn,
// or an action removed.
func (g Gen) Mutate(r *rand.Rand, s *Strategy) *Strategy {
	g = g.defaults()
	c := s.Clone()
	c.Outbound = g.mutateForest(r, c.Outbound, false, g.OutTrees > 0 || len(s.Outbound) > 0)
	c.Inbound = g.mutateForest(r, c.Inbound, true, g.InTrees > 0 || len(s.Inbound) > 0)
	return c
}

func (g Gen) mutateForest(r *rand.Rand, trees []Tree, inbound, enabled bool) []Tree {
	if !enabled {
		return trees
	}
	pick := r.Float64()
	switch {
	case pick < 0.1 || len(trees) == 0:
		return append(trees, g.randomTree(r, inbound, 1))
	case pick < 0.2:
		i := r.IntN(len(trees))
		return append(trees[:i:i], trees[i+1:]...)
	case pick < 0.25 && len(trees) > 1:
		r.Shuffle(len(trees), func(i, j int) { trees[i], trees[j] = trees[j], trees[i] })
		return trees
	}
	for i := range trees {
		g.mutateTree(r, &trees[i], inbound)
	}
	return trees
}

func (g Gen) mutateTree(r *rand.Rand, t *Tree, inbound bool) {
	pick := r.Float64()
	all := nodes(&t.Root, nil)
	switch {
	case pick < 0.2 || len(all) == 0:
		t.Root = addAction(r, t.Root, g.randomAction(r, inbound))
	case pick < 0.65:
		a := *all[r.IntN(len(all))]
		switch a.Kind {
		case Tamper: // actions/tamper.py: mutate
			if a.Mode == Add {
				a.Mode = Replace
			}
			if r.IntN(5) == 0 {
				if a.Mode == Corrupt {
					a.Mode, a.Value = Replace, g.randomValue(r, a.Field, false)
				} else {
					a.Mode, a.Value = Corrupt, Value{}
				}
			} else {
				*a = Action{Kind: Tamper, Left: a.Left, Field: g.randomTamper(r).Field, Mode: a.Mode}
				if a.Mode != Corrupt {
					a.Value = g.randomValue(r, a.Field, false)
					if a.Field.info().kind == kindLoad {
						a.Value = Value{Text: a.Value.Text}
					}
				}
			}
		case Duplicate: // swaps its children
			a.Left, a.Right = a.Right, a.Left
		case Fragment:
			randomFragment(r, a)
		}
	case pick < 0.8:
		t.Trigger = g.randomTrigger(r)
	default: // remove one action, keeping its left subtree (actions/tree.py: remove_action)
		link := all[r.IntN(len(all))]
		*link = (*link).Left
	}
}

// Crossover swaps a random subtree of a tree of a with one of a tree of b,
// per direction, with probability p each (actions/strategy.py: mate); with
// one chance in five, or when a side has no tree, it swaps whole trees
// instead. It returns two new strategies.
func Crossover(r *rand.Rand, a, b *Strategy, p float64) (*Strategy, *Strategy) {
	a, b = a.Clone(), b.Clone()
	if r.Float64() < p {
		a.Outbound, b.Outbound = mateForests(r, a.Outbound, b.Outbound)
	}
	if r.Float64() < p {
		a.Inbound, b.Inbound = mateForests(r, a.Inbound, b.Inbound)
	}
	return a, b
}

func mateForests(r *rand.Rand, f1, f2 []Tree) ([]Tree, []Tree) {
	if len(f1) == 0 && len(f2) == 0 {
		return f1, f2
	}
	if (r.Float64() < 0.8 && len(f1) > 0 && len(f2) > 0) || (len(f1) == 1 && len(f2) == 1) {
		t1, t2 := &f1[r.IntN(len(f1))], &f2[r.IntN(len(f2))]
		n1, n2 := nodes(&t1.Root, nil), nodes(&t2.Root, nil)
		l1, l2 := &t1.Root, &t2.Root
		if len(n1) > 0 {
			l1 = n1[r.IntN(len(n1))]
		}
		if len(n2) > 0 {
			l2 = n2[r.IntN(len(n2))]
		}
		*l1, *l2 = *l2, *l1
		return f1, f2
	}
	// swap one tree each way
	var d1, d2 *Tree
	if len(f1) > 0 {
		i := r.IntN(len(f1))
		t := f1[i]
		d1 = &t
		f1 = append(f1[:i:i], f1[i+1:]...)
	}
	if len(f2) > 0 {
		i := r.IntN(len(f2))
		t := f2[i]
		d2 = &t
		f2 = append(f2[:i:i], f2[i+1:]...)
	}
	if d2 != nil {
		i := r.IntN(len(f1) + 1)
		f1 = append(f1[:i:i], append([]Tree{*d2}, f1[i:]...)...)
	}
	if d1 != nil {
		i := r.IntN(len(f2) + 1)
		f2 = append(f2[:i:i], append([]Tree{*d1}, f2[i:]...)...)
	}
	return f1, f2
}
