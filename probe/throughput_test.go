package probe_test

import (
	"testing"

	"github.com/splinter-lab/splinter/probe"
)

// kbit builds the downloads of a throughput test from rates in kbit/s:
// the first with SNI, then pairs (baseline, with SNI) made side by side.
// A negative rate is a failed download.
func kbit(first float64, pairs ...[2]float64) probe.Throughput {
	dl := func(r float64) probe.Download {
		if r < 0 {
			f := probe.FailureTimeout
			return probe.Download{Failure: &f}
		}
		return probe.Download{Bytes: 48 << 10, BitsPerS: r * 1000}
	}
	d := dl(first)
	t := probe.Throughput{Bytes: d.Bytes, BitsPerS: d.BitsPerS, Failure: d.Failure}
	for _, p := range pairs {
		t.Baselines = append(t.Baselines, dl(p[0]))
		t.Repeats = append(t.Repeats, dl(p[1]))
	}
	return t
}

// TestThroughputJudge: a download with SNI is compared only with the
// baseline made beside it. The cases marked "loaded" are the downloads of
// false throttled verdicts from a run on a busy machine, when the best
// baseline of any moment was compared with the median download with SNI:
// the machine ran three to ten times faster from one second to the next,
// and the pairs themselves ran alike. A test with a slow first download
// and fewer than two pairs judged, and fewer than two fast downloads with
// SNI, cannot tell: it is inconclusive.
func TestThroughputJudge(t *testing.T) {
	const below, ratio = 300e3, 2.5
	for _, c := range []struct {
		name              string
		t                 probe.Throughput
		throttled         bool
		inconclusive      bool
		pairs, gaps       int
		medianSNI, bestBL float64 // kbit/s
	}{
		{name: "throttled (Russia's 140 kbit/s)", t: kbit(130, [2]float64{4200, 135}, [2]float64{3900, 128}), throttled: true, pairs: 2, gaps: 2, medianSNI: 130, bestBL: 4200},
		{name: "throttled, one flow missed by a first-packet censor", t: kbit(130, [2]float64{4200, 3800}, [2]float64{3900, 128}, [2]float64{4100, 131}), throttled: true, pairs: 3, gaps: 2, medianSNI: 131, bestBL: 4200},
		{name: "fast first download", t: kbit(900), pairs: 0, gaps: 0, medianSNI: 900},
		{name: "loaded: pairs alike, moments apart", t: kbit(125, [2]float64{224, 261}, [2]float64{678, 612}), pairs: 1, inconclusive: true, gaps: 0, medianSNI: 261, bestBL: 678},
		{name: "loaded: pairs alike, one slow pair", t: kbit(57, [2]float64{432, 432}, [2]float64{15, 34}), inconclusive: true, pairs: 1, gaps: 0, medianSNI: 57, bestBL: 432},
		{name: "loaded: four pairs", t: kbit(15, [2]float64{83, 86}, [2]float64{33, 34}, [2]float64{33, 171}, [2]float64{364, 400}), inconclusive: true, pairs: 1, gaps: 0, medianSNI: 86, bestBL: 364},
		{name: "loaded: one pair apart", t: kbit(197, [2]float64{211, 204}, [2]float64{261, 254}, [2]float64{694, 708}), inconclusive: true, pairs: 1, gaps: 0, medianSNI: 254, bestBL: 694},
		{name: "a gap in one pair of two is not enough", t: kbit(120, [2]float64{900, 110}, [2]float64{800, 700}), pairs: 2, gaps: 1, medianSNI: 120, bestBL: 900},
		{name: "failed pairs do not count", t: kbit(120, [2]float64{900, 110}, [2]float64{-1, 100}, [2]float64{850, -1}), inconclusive: true, pairs: 1, gaps: 1, medianSNI: 120, bestBL: 900},
		{name: "baselines too slow to tell", t: kbit(100, [2]float64{250, 90}, [2]float64{280, 95}), inconclusive: true, pairs: 0, gaps: 0, medianSNI: 95, bestBL: 280},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := c.t
			tp.Judge(below, ratio)
			if tp.Throttled != c.throttled || tp.Inconclusive != c.inconclusive || tp.Pairs != c.pairs || tp.Gaps != c.gaps {
				t.Errorf("throttled %v, inconclusive %v, %d gaps in %d pairs; want %v, %v, %d in %d", tp.Throttled, tp.Inconclusive, tp.Gaps, tp.Pairs, c.throttled, c.inconclusive, c.gaps, c.pairs)
			}
			if tp.MedianSNI != c.medianSNI*1000 || tp.BestBaseline != c.bestBL*1000 {
				t.Errorf("median with SNI %.0f, best baseline %.0f bit/s; want %.0f, %.0f", tp.MedianSNI, tp.BestBaseline, c.medianSNI*1000, c.bestBL*1000)
			}
		})
	}
}

// TestThroughputStall: downloads that froze (some KB, then nothing, never
// completed) are not slow ones: when those without SNI froze beside them
// the address's connections freeze; when those completed, the name's.
func TestThroughputStall(t *testing.T) {
	const below, ratio = 300e3, 2.5
	frozen := probe.Download{Bytes: 16 << 10, BitsPerS: 55e3, Stalled: true}
	done := probe.Download{Bytes: 48 << 10, BitsPerS: 4e6}
	slow := probe.Download{Bytes: 14 << 10, BitsPerS: 50e3}
	for _, c := range []struct {
		name      string
		first     probe.Download
		pairs     [][2]probe.Download // baseline, with SNI
		want      probe.Stall
		throttled bool
	}{
		{"every download froze", frozen, [][2]probe.Download{{frozen, frozen}, {frozen, frozen}}, probe.StalledAll, false},
		{"with SNI only", frozen, [][2]probe.Download{{done, frozen}, {done, frozen}}, probe.StalledSNI, false},
		{"one frozen download is not a freeze", frozen, [][2]probe.Download{{done, done}, {done, done}}, "", false},
		{"slow, not frozen", slow, [][2]probe.Download{{slow, slow}, {slow, slow}}, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := probe.Throughput{Wanted: 48 << 10, Bytes: c.first.Bytes, BitsPerS: c.first.BitsPerS, FirstStalled: c.first.Stalled}
			for _, p := range c.pairs {
				tp.Baselines = append(tp.Baselines, p[0])
				tp.Repeats = append(tp.Repeats, p[1])
			}
			tp.Judge(below, ratio)
			if tp.Stalled != c.want || tp.Throttled != c.throttled {
				t.Errorf("stalled %q, throttled %v; want %q, %v", tp.Stalled, tp.Throttled, c.want, c.throttled)
			}
			if c.want != "" && tp.Inconclusive {
				t.Error("a freeze judged inconclusive")
			}
		})
	}
}
