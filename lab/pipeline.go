package lab

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// pipeline carries a run's events, in the order they happened, from one
// goroutine to where they go: the borders' decisions (through the log's
// hook), the beginning and end of each measurement (from the campaign)
// and the time (a ticker) reach the JSON lines files, the store and the
// scoring stream. One goroutine does all the writing and scoring, so none
// of them needs a lock, and a decision is always told before a measurement
// that ended after it. A tick carries the clock's time when it was sent:
// every decision taken before then was sent before it.
type pipeline struct {
	out     *outputs
	store   *store.Writer
	stream  *score.Stream
	auditor *score.Auditor
	keep    bool
	health  probe.HealthTally
	tee     *json.Encoder // RunOptions.Lab.Decisions
	fail    func(error)   // ends the campaign on a write error

	events chan event
	mu     sync.RWMutex // closed, against late sends
	closed bool
	done   chan struct{}
	tick   *time.Ticker
	ticked chan struct{}

	// The goroutine's own.
	decisions int
	measured  int
	ms        []*probe.Measurement
	err       error
}

type eventKind uint8

const (
	evDecision eventKind = iota
	evBegin
	evMeasurement
	evTick
)

type event struct {
	kind eventKind
	id   int
	t    time.Time
	m    *probe.Measurement
	d    border.Decision
}

// tickEvery is how often the stream is told the time: a measurement is
// scored at most this long after its window closes.
const tickEvery = 250 * time.Millisecond

func newPipeline(out *outputs) *pipeline {
	// Decisions taken while the lab starts wait here for start.
	return &pipeline{out: out, events: make(chan event, 8192), done: make(chan struct{}), ticked: make(chan struct{})}
}

// start runs the pipeline's goroutine and its ticker on clk; every field
// must be set by then.
func (p *pipeline) start(clk clock.Clock) {
	go p.loop()
	p.tick = time.NewTicker(tickEvery)
	go func() {
		defer close(p.ticked)
		for {
			select {
			case <-p.tick.C:
				p.send(event{kind: evTick, t: clk.Now()})
			case <-p.done:
				return
			}
		}
	}()
}

func (p *pipeline) send(ev event) {
	p.mu.RLock()
	if !p.closed {
		p.events <- ev
	}
	p.mu.RUnlock()
}

func (p *pipeline) decision(d border.Decision) { p.send(event{kind: evDecision, d: d}) }

func (p *pipeline) begin(id int, t time.Time) { p.send(event{kind: evBegin, id: id, t: t}) }

func (p *pipeline) measurement(id int, m *probe.Measurement) {
	p.send(event{kind: evMeasurement, id: id, m: m})
}

func (p *pipeline) loop() {
	defer close(p.done)
	for ev := range p.events {
		switch ev.kind {
		case evDecision:
			p.decisions++
			if p.out != nil {
				p.out.decisions.write(ev.d)
				p.check(p.out.decisions.err)
			}
			if p.tee != nil {
				p.check(p.tee.Encode(ev.d))
			}
			if p.store != nil {
				p.check(p.store.Decision(ev.d))
			}
			p.stream.Decision(ev.d)
			if p.auditor != nil {
				p.auditor.Decision(&ev.d)
			}
		case evBegin:
			p.stream.Begin(ev.id, ev.t)
		case evMeasurement:
			p.measured++
			p.health.Add(ev.m)
			if p.out != nil {
				p.out.measurements.write(ev.m)
				p.check(p.out.measurements.err)
			}
			if p.store != nil {
				p.check(p.store.Measurement(ev.m))
			}
			if p.keep {
				p.ms = append(p.ms, ev.m)
			}
			p.stream.Measurement(ev.id, ev.m)
		case evTick:
			p.stream.Advance(ev.t)
		}
	}
}

// storeItem writes a scored item to the store (from the goroutine, or
// after it ended).
func (p *pipeline) storeItem(it score.Item) {
	if p.store == nil {
		return
	}
	if it.Measured != it.Truth {
		p.check(p.store.Disagreement(score.Disagreement{Item: it, Explanation: score.Explain(it)}))
		return
	}
	p.check(p.store.Score(it))
}

func (p *pipeline) check(err error) {
	if err != nil && p.err == nil {
		p.err = err
		if p.fail != nil {
			p.fail(err)
		}
	}
}

// finish stops the pipeline once the campaign and the borders have: it
// waits for every event sent to be handled, and returns the first error
// writing.
func (p *pipeline) finish() error {
	if p.tick == nil { // never started
		return p.err
	}
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.events)
	}
	p.mu.Unlock()
	<-p.done
	p.tick.Stop()
	<-p.ticked
	return p.err
}
