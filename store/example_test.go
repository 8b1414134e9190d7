package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// A run as the lab writes it, and the reads an explorer makes.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "splinter-example-")
	defer os.RemoveAll(dir)
	s, err := store.Open(ctx, filepath.Join(dir, "splinter.db")) // or postgres://..., clickhouse://...
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// One measurement and the decision behind it, from a real run.
	var m probe.Measurement
	var d border.Decision
	raw, _ := os.ReadFile("testdata/measurements.jsonl")
	json.Unmarshal(raw[:bytes.IndexByte(raw, '\n')], &m)
	raw, _ = os.ReadFile("testdata/decisions.jsonl")
	json.Unmarshal(raw[:bytes.IndexByte(raw, '\n')], &d)

	w, err := s.Begin(ctx, store.Run{ID: "example", Scenario: "splinternet", Shards: 1}, store.Part{Health: store.CurrentHealth()})
	if err != nil {
		fmt.Println(err)
		return
	}
	w.Measurement(&m) // as each measurement ends
	w.Decision(d)     // as each border decision is taken
	w.Result(score.Score([]*probe.Measurement{&m}, []border.Decision{d}))
	if err := w.Close(ctx, store.Complete, store.CurrentHealth()); err != nil {
		fmt.Println(err)
		return
	}

	run, _ := s.Run(ctx, "example")
	fmt.Println(run.ID, run.Status, run.Measurements, "measurement", run.Decisions, "decision")
	page, _ := s.Measurements(ctx, store.Query{Run: "example", CC: "CN", Verdict: probe.DNS})
	for _, it := range page.Items {
		fmt.Println(it.Vantage, it.Input, it.Verdict, "truth:", it.Truth)
		detail, _ := s.Measurement(ctx, "example", it.Key)
		fmt.Println(len(detail.Observations), "observations;", detail.Decisions[0].Rule, detail.Decisions[0].Action)
	}
	cells, _ := s.Heatmap(ctx, "example", false)
	fmt.Println(cells[0].CC, cells[0].Category, cells[0].Counts)
	// Output:
	// example complete 1 measurement 1 decision
	// cn-client-1 http://www.freepress-herald.com/ dns truth: dns
	// 10 observations; cn-dns-injector-1 dns-inject
	// CN NEWS map[dns:1]
}
