package probe

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Input is one URL of a test list, with its Citizen Lab category.
type Input struct {
	URL      string
	Category string
}

// CampaignOptions tune Campaign. The zero value is usable.
type CampaignOptions struct {
	// Concurrency bounds the measurements in flight; 0 means 256.
	Concurrency int
	// PerVantage bounds the measurements in flight from one prober (they
	// share its access link); 0 means 32.
	PerVantage int
	// Progress, if not nil, is called after each measurement (from many
	// goroutines, never at once).
	Progress func(done, total int, m *Measurement)
}

// Campaign measures every input from every prober with web_connectivity and
// returns the measurements prober by prober, in input order. Every prober
// works through the inputs in order, so the control measures each URL once
// while the vantages wait for it.
func Campaign(ctx context.Context, probers []*Prober, inputs []Input, opts CampaignOptions) []*Measurement {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.PerVantage <= 0 {
		opts.PerVantage = 32
	}
	total := len(probers) * len(inputs)
	out := make([]*Measurement, total)
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	var done atomic.Int64
	var mu sync.Mutex
	for i, p := range probers {
		id := ReportID(p.now(), p.cfg.Vantage, fmt.Sprintf("%04d", i))
		var next atomic.Int64
		for range min(opts.PerVantage, len(inputs)) {
			wg.Go(func() {
				for {
					j := int(next.Add(1)) - 1
					if j >= len(inputs) || ctx.Err() != nil {
						return
					}
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						return
					}
					in := inputs[j]
					m := p.WebConnectivity(ctx, in.URL, id)
					<-sem
					if in.Category != "" {
						m.Annotations["category_code"] = in.Category
					}
					out[i*len(inputs)+j] = m
					n := int(done.Add(1))
					if opts.Progress != nil {
						mu.Lock()
						opts.Progress(n, total, m)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	res := out[:0]
	for _, m := range out {
		if m != nil {
			res = append(res, m)
		}
	}
	return res
}
