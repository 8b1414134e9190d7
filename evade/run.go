package evade

import (
	"context"
	"time"

	"github.com/splinter-lab/splinter/lab"
)

// Result is what Run measured.
type Result struct {
	Scenario string `json:"scenario"`
	From     string `json:"from"`
	// Strategy and ServerStrategy are the strategies tried, in canonical
	// DNA ("" for none).
	Strategy       string  `json:"strategy"`
	ServerStrategy string  `json:"server_strategy"`
	URLs           []Tally `json:"urls"`
	// Trials are every trial, URL by URL, with their decisions.
	Trials []*Trial `json:"trials"`
	// Elapsed is the real time the trials took (not the world's start).
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Run starts a private world from spec, runs opts.Trials trials of each
// URL from opts.From with opts.Strategy and opts.ServerStrategy, and
// returns what happened. Bad input (an unknown host, a URL of no site) is
// an *lab.InputError.
func Run(ctx context.Context, spec *lab.Spec, opts Options, urls []string) (*Result, error) {
	client, server, trials := opts.Strategy, opts.ServerStrategy, opts.Trials
	if err := Check(spec, opts.From, urls); err != nil {
		return nil, err
	}
	s, err := Start(ctx, spec, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res := &Result{Scenario: spec.Scenario.Name, From: opts.From}
	if client != nil {
		res.Strategy = client.String()
	}
	if server != nil {
		res.ServerStrategy = server.String()
	}
	start := time.Now()
	for _, u := range urls {
		t, ts, err := s.Run(ctx, Attempt{URL: u, Client: client, Server: server, Trials: trials})
		if err != nil {
			return nil, err
		}
		res.URLs = append(res.URLs, t)
		res.Trials = append(res.Trials, ts...)
	}
	res.Elapsed = time.Since(start)
	return res, s.ledger.err()
}
