package strategy_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/strategy"
)

type vecOut struct {
	hex    string // "??" masks a random byte
	x      bool   // Geneva cannot build it: not sent
	varies bool   // its length depends on the random draw
	sleep  float64
}

type vecCase struct {
	in      string
	outs    []vecOut
	unknown bool // the number of packets depends on the draw
}

type vector struct {
	line  int
	dna   string
	cases []vecCase
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/geneva-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "strategy "):
			vs = append(vs, vector{line: n, dna: strings.TrimPrefix(line, "strategy ")})
		case strings.HasPrefix(line, "in "):
			v := &vs[len(vs)-1]
			v.cases = append(v.cases, vecCase{in: strings.TrimPrefix(line, "in ")})
		case line == "varies":
			v := &vs[len(vs)-1]
			v.cases[len(v.cases)-1].unknown = true
		case strings.HasPrefix(line, "out "):
			v := &vs[len(vs)-1]
			c := &v.cases[len(v.cases)-1]
			f := strings.Fields(line)
			o := vecOut{}
			switch f[1] {
			case "x":
				o.x = true
			case "varies":
				o.varies = true
			default:
				o.hex = f[1]
				o.sleep, _ = strconv.ParseFloat(strings.TrimPrefix(f[2], "sleep="), 64)
			}
			c.outs = append(c.outs, o)
		case line == "end":
		default:
			t.Fatalf("line %d: %q", n, line)
		}
	}
	return vs
}

func matchMasked(want string, got []byte) bool {
	g := hex.EncodeToString(got)
	if len(g) != len(want) {
		return false
	}
	for i := 0; i < len(want); i += 2 {
		if want[i:i+2] != "??" && want[i:i+2] != g[i:i+2] {
			return false
		}
	}
	return true
}

// TestGenevaVectors runs every strategy of testdata/geneva-vectors.txt over
// the same packets, in the same order (gas carries over), with several
// seeds, and compares what the engine emits with what Geneva sent: the
// same packets in the same order, byte for byte except the bytes Geneva
// drew at random.
func TestGenevaVectors(t *testing.T) {
	vs := readVectors(t)
	if len(vs) < 150 {
		t.Fatalf("only %d vectors", len(vs))
	}
	for _, v := range vs {
		s, err := strategy.Parse(v.dna)
		if err != nil {
			t.Errorf("line %d: %v", v.line, err)
			continue
		}
		inbound := strings.HasPrefix(v.dna, `\/`)
		for seed := uint64(1); seed <= 3; seed++ {
			type delayed struct {
				b []byte
				d time.Duration
			}
			var later []delayed
			e := strategy.New(s, strategy.Options{Rand: rand.New(rand.NewPCG(seed, 99)), Delay: func(b []byte, d time.Duration) {
				later = append(later, delayed{b, d})
			}})
			for ci, c := range v.cases {
				in, _ := hex.DecodeString(c.in)
				var got [][]byte
				later = later[:0]
				emit := func(b []byte) { got = append(got, append([]byte(nil), b...)) }
				if inbound {
					e.Inbound(in, emit)
				} else {
					e.Outbound(in, emit)
				}
				if c.unknown {
					continue
				}
				var want, wantLater []vecOut
				for _, o := range c.outs {
					if o.x {
						continue
					}
					if o.sleep > 0 {
						wantLater = append(wantLater, o)
					} else {
						want = append(want, o)
					}
				}
				where := fmt.Sprintf("line %d %s packet %d seed %d", v.line, v.dna, ci, seed)
				if len(got) != len(want) || len(later) != len(wantLater) {
					t.Errorf("%s: emitted %d (+%d delayed), Geneva %d (+%d)\n got %x\nwant %v", where, len(got), len(later), len(want), len(wantLater), got, want)
					continue
				}
				for i, o := range want {
					if !o.varies && !matchMasked(o.hex, got[i]) {
						t.Errorf("%s: packet %d\n got %x\nwant %s", where, i, got[i], o.hex)
					}
				}
				for i, o := range wantLater {
					if !o.varies && !matchMasked(o.hex, later[i].b) || later[i].d != time.Duration(o.sleep*float64(time.Second)) {
						t.Errorf("%s: delayed packet %d\n got %x after %v\nwant %s after %gs", where, i, later[i].b, later[i].d, o.hex, o.sleep)
					}
				}
			}
		}
	}
}
