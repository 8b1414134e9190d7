package score

import (
	"slices"

	"github.com/splinter-lab/splinter/probe"
)

// Limits bound what a Tally keeps of the items it counts. The zero value
// keeps a report's worth (see the defaults).
type Limits struct {
	// Items bounds Result.Items: the blocked or disputed measurements, the
	// first of each (vantage, domain, measured verdict, truth), with their
	// measurements and decisions (a report's evidence chains). 0 means
	// 3000; a negative bound keeps every item, accessible ones too (Score).
	Items int
	// Disagreements bounds Result.Disagree; 0 means 1000, a negative
	// bound keeps every one.
	Disagreements int
}

// Tally counts scored items as they come: agreement, the confusion
// matrix and per-class precision and recall over every item, and a bounded
// few of the items themselves, so that its memory does not grow with the
// run. It is not safe for concurrent use.
type Tally struct {
	lim      Limits
	total    int
	agree    int
	counts   map[[2]probe.Verdict]int // [truth, measured]
	items    []Item
	alike    map[itemKey]bool
	omitted  int
	disagree []Disagreement
	disOmit  int
}

type itemKey struct {
	vantage, domain string
	measured, truth probe.Verdict
}

// NewTally returns an empty tally.
func NewTally(lim Limits) *Tally {
	if lim.Items == 0 {
		lim.Items = 3000
	}
	if lim.Disagreements == 0 {
		lim.Disagreements = 1000
	}
	return &Tally{lim: lim, counts: map[[2]probe.Verdict]int{}, alike: map[itemKey]bool{}}
}

// Add counts it; its Index is set to the number of items counted before.
func (t *Tally) Add(it Item) {
	it.Index = t.total
	t.total++
	t.counts[[2]probe.Verdict{it.Truth, it.Measured}]++
	agree := it.Truth == it.Measured
	if agree {
		t.agree++
	}
	kept := false
	switch {
	case t.lim.Items < 0:
		t.items, kept = append(t.items, it), true
	case it.Measured.Blocked() || it.Truth.Blocked() || !agree:
		k := itemKey{it.Vantage, it.Domain, it.Measured, it.Truth}
		if !t.alike[k] && len(t.items) < t.lim.Items {
			t.alike[k] = true
			t.items, kept = append(t.items, it), true
		} else {
			t.omitted++
		}
	}
	if agree {
		return
	}
	if t.lim.Disagreements >= 0 && len(t.disagree) >= t.lim.Disagreements {
		t.disOmit++
		return
	}
	d := Disagreement{Item: it, Explanation: explain(it)}
	if !kept {
		d.Measurement = nil // the items keep measurements; a disagreement alone needs only its explanation
	}
	t.disagree = append(t.disagree, d)
}

// Total is how many items were counted.
func (t *Tally) Total() int { return t.total }

// Result is the scoring of the items counted so far.
func (t *Tally) Result() *Result {
	r := &Result{Total: t.total, Agree: t.agree, Items: slices.Clone(t.items), ItemsOmitted: t.omitted,
		Disagree: slices.Clone(t.disagree), DisagreeOmitted: t.disOmit}
	if r.Total > 0 {
		r.Accuracy = float64(r.Agree) / float64(r.Total)
	}
	present := map[probe.Verdict]bool{}
	for k := range t.counts {
		present[k[0]], present[k[1]] = true, true
	}
	var labels []probe.Verdict
	for _, c := range append(append([]probe.Verdict{}, Classes...), probe.Unknown) {
		if present[c] {
			labels = append(labels, c)
		}
	}
	r.Confusion.Labels = labels
	r.Confusion.Counts = make([][]int, len(labels))
	for i, truth := range labels {
		r.Confusion.Counts[i] = make([]int, len(labels))
		for j, measured := range labels {
			r.Confusion.Counts[i][j] = t.counts[[2]probe.Verdict{truth, measured}]
		}
	}
	for _, c := range labels {
		if c == probe.Unknown {
			continue
		}
		cs := ClassScore{Class: c}
		for k, n := range t.counts {
			truth, measured := k[0], k[1]
			switch {
			case truth == c && measured == c:
				cs.TP += n
			case measured == c:
				cs.FP += n
			case truth == c:
				cs.FN += n
			}
		}
		cs.Support = cs.TP + cs.FN
		cs.Precision, cs.Recall = 1, 1
		if cs.TP+cs.FP > 0 {
			cs.Precision = float64(cs.TP) / float64(cs.TP+cs.FP)
		}
		if cs.TP+cs.FN > 0 {
			cs.Recall = float64(cs.TP) / float64(cs.TP+cs.FN)
		}
		r.PerClass = append(r.PerClass, cs)
	}
	return r
}
