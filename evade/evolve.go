package evade

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/strategy"
)

// Defaults of EvolveOptions, after Geneva's evolve.py where it has one
// (--elite-clones 3, --mutation-pb 0.99, --crossover-pb 0.4, tournaments
// of 10); the population is smaller than Geneva's 250 because every
// strategy is tried Trials times in process rather than once per run.
const (
	DefaultPopulation  = 30
	DefaultGenerations = 50
	DefaultEvalTrials  = 10
	DefaultBudget      = 10 * time.Minute
	// DefaultEvolveTimeout bounds one trial of a search. Geneva's HTTP
	// client plugin gives each socket operation one second
	// (plugins/http/client.py: socket.setdefaulttimeout(1)); a trial here
	// is a handshake, a request and its answer, and a strategy that loses
	// the first SYN still has its retransmission (1 s, RFC 6298) inside
	// two seconds. A search's trials mostly wait: with evade's 5 s a
	// generation took 5 s of idle CPU whenever one strategy stalled.
	DefaultEvolveTimeout = 2 * time.Second
	// DefaultEvolveConcurrency is how many trials of a search run at once
	// (Options.Concurrency of the session a search runs in): enough for
	// most of a generation, so that a generation lasts about one timeout.
	DefaultEvolveConcurrency = 128
	DefaultElite             = 3
	DefaultMutation          = 0.99
	DefaultCrossover         = 0.4
	tournament               = 10
	mutationRetries          = 20
)

// Fitness of one trial, as Geneva's plugins score one run
// (plugins/*/client.py): 400 for the real content, -360 for a connection
// the censor reset, -400 for anything else (timeouts, broken connections).
const (
	fitSuccess = 400
	fitReset   = -360
	fitFailure = -400
	// fitUnused is what each tree that never fired costs
	// (actions/utils.py: punish_unused).
	fitUnused = 10
)

// EvolveOptions configure a genetic search. The zero value needs a URL.
type EvolveOptions struct {
	// URL is tried from From ("" for the session's Options.From).
	URL, From string
	// Population is the number of strategies per generation; 0 means
	// DefaultPopulation.
	Population int
	// Generations bounds the search; 0 means DefaultGenerations.
	Generations int
	// Trials is how many times each new strategy is tried; 0 means
	// DefaultEvalTrials.
	Trials int
	// Budget bounds the search in real time; 0 means DefaultBudget. When
	// it runs out the search stops and returns what it found.
	Budget time.Duration
	// Seed makes the search repeat (with the session's seed); 0 means 1.
	Seed uint64
	// Gen shapes new strategies and mutations; when Gen.Packets is nil
	// the packets of a trial without strategy fill it (Geneva's canary
	// phase).
	Gen strategy.Gen
	// Seeds, if any, join the first generation unchanged (Geneva's --seed).
	Seeds []*strategy.Strategy
	// Elite is how many copies of the best strategy pass to the next
	// generation unchanged; 0 means DefaultElite, negative none.
	Elite int
	// Mutation and Crossover are the probabilities of mutating a strategy
	// and of mating a pair; 0 means DefaultMutation, DefaultCrossover.
	Mutation, Crossover float64
	// Top is how many of the best strategies the result lists; 0 means 10.
	Top int
	// Progress, if set, is called after each generation.
	Progress func(Generation)
}

// Individual is a strategy with how it fared.
type Individual struct {
	DNA      string             `json:"dna"`
	Strategy *strategy.Strategy `json:"-"`
	Tally    Tally              `json:"tally"`
	// Fitness is Geneva's: the mean of the trials' scores (400 success,
	// -360 reset, -400 otherwise), minus one per action when positive
	// (punish_complexity), minus 10 per tree that never fired
	// (punish_unused).
	Fitness float64 `json:"fitness"`
	Size    int     `json:"size"`
	Unused  int     `json:"unused"`
	// Generation is the generation that first tried it.
	Generation int `json:"generation"`
}

// Generation sums up one generation.
type Generation struct {
	N int
	// Tried is how many strategies of the generation were new (tried
	// now); Unique how many distinct strategies it holds.
	Tried, Unique int
	Best          Individual
	Mean          float64 // mean fitness
	Elapsed       time.Duration
}

// Evolution is what a search found.
type Evolution struct {
	// Best are the fittest strategies tried, best first.
	Best []Individual `json:"best"`
	// Generations run, strategies tried, trials run.
	Generations int `json:"generations"`
	Tried       int `json:"tried"`
	Trials      int `json:"trials"`
	// Stopped says why the search ended: "generations" or "budget".
	Stopped string        `json:"stopped"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Evolve runs a genetic search over Geneva's strategy language for a
// client-side strategy that gets opts.URL through, in the manner of
// Geneva's evolve.py: each generation, pairs mate with probability
// Crossover, each strategy mutates with probability Mutation (an empty
// strategy, or one already tried that failed, is drawn again), the elite
// join unchanged, the new strategies are tried, and tournaments of 10
// choose the next generation. A strategy is tried once (Trials trials);
// its fitness is remembered. The search stops after Generations or when
// Budget runs out, whichever comes first; ctx ending is an error.
func (s *Session) Evolve(ctx context.Context, opts EvolveOptions) (*Evolution, error) {
	opts = opts.defaults()
	start := time.Now()
	bctx, cancel := context.WithTimeout(ctx, opts.Budget)
	defer cancel()
	// The canary: one trial with no strategy, which also checks the URL
	// and the host.
	pkts, err := s.Packets(ctx, opts.URL, opts.From)
	if err != nil {
		return nil, err
	}
	gen := opts.Gen
	if gen.Packets == nil {
		gen.Packets = pkts
	}
	rng := rand.New(rand.NewPCG(opts.Seed, s.opts.Seed^0x6765_6e65_7661))
	e := &evolution{s: s, opts: opts, seen: map[string]*Individual{}}
	var pop []*strategy.Strategy
	for len(pop) < opts.Population {
		pop = append(pop, gen.Random(rng))
	}
	// Seeds are tried as they are, as Geneva's first elite.
	var elite []*strategy.Strategy
	for _, sd := range opts.Seeds {
		elite = append(elite, sd.Clone())
	}
	res := &Evolution{Stopped: "generations"}
	for g := 0; g < opts.Generations; g++ {
		gstart := time.Now()
		offspring := make([]*strategy.Strategy, len(pop))
		for i, p := range pop {
			offspring[i] = p.Clone()
		}
		for i := 1; i < len(offspring); i += 2 {
			if rng.Float64() < opts.Crossover {
				offspring[i-1], offspring[i] = strategy.Crossover(rng, offspring[i-1], offspring[i], 0.5)
			}
		}
		for i := range offspring {
			if rng.Float64() < opts.Mutation {
				offspring[i] = e.mutate(rng, gen, offspring[i])
			}
		}
		offspring = append(offspring, elite...)
		tried, err := e.evaluate(bctx, offspring, g)
		res.Generations = g + 1
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				res.Stopped = "budget"
				break
			}
			return nil, err
		}
		inds := make([]*Individual, len(offspring))
		sum := 0.0
		uniq := map[string]bool{}
		for i, o := range offspring {
			inds[i] = e.seen[o.String()]
			sum += inds[i].Fitness
			uniq[inds[i].DNA] = true
		}
		best := slices.MaxFunc(inds, betterLast)
		if opts.Progress != nil {
			opts.Progress(Generation{N: g, Tried: tried, Unique: len(uniq), Best: *best, Mean: sum / float64(len(inds)), Elapsed: time.Since(gstart)})
		}
		// Tournaments choose the next generation; the elite join it.
		k := len(offspring) - max(opts.Elite, 0)
		pop = pop[:0]
		for range k {
			var win *Individual
			var ws *strategy.Strategy
			for range min(tournament, len(inds)) {
				j := rng.IntN(len(inds))
				if win == nil || betterLast(win, inds[j]) < 0 {
					win, ws = inds[j], offspring[j]
				}
			}
			pop = append(pop, ws.Clone())
		}
		elite = elite[:0]
		for range max(opts.Elite, 0) {
			elite = append(elite, best.Strategy.Clone())
		}
		if bctx.Err() != nil {
			res.Stopped = "budget"
			break
		}
	}
	all := make([]Individual, 0, len(e.seen))
	for _, ind := range e.seen {
		if ind.Tally.Trials > 0 {
			all = append(all, *ind)
			res.Trials += ind.Tally.Trials
		}
	}
	res.Tried = len(all)
	slices.SortFunc(all, func(a, b Individual) int { return betterLast(&b, &a) })
	res.Best = all[:min(opts.Top, len(all))]
	res.Elapsed = time.Since(start)
	return res, nil
}

func (o EvolveOptions) defaults() EvolveOptions {
	if o.Population <= 0 {
		o.Population = DefaultPopulation
	}
	if o.Generations <= 0 {
		o.Generations = DefaultGenerations
	}
	if o.Trials <= 0 {
		o.Trials = DefaultEvalTrials
	}
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Elite == 0 {
		o.Elite = DefaultElite
	}
	if o.Mutation == 0 {
		o.Mutation = DefaultMutation
	}
	if o.Crossover == 0 {
		o.Crossover = DefaultCrossover
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	return o
}

// betterLast orders individuals by fitness, then (for equal fitness) the
// smaller first, then by DNA so that the order is total: a < b when b is
// better.
func betterLast(a, b *Individual) int {
	if c := cmp.Compare(a.Fitness, b.Fitness); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Size, a.Size); c != 0 {
		return c
	}
	return cmp.Compare(b.DNA, a.DNA)
}

type evolution struct {
	s    *Session
	opts EvolveOptions
	mu   sync.Mutex
	seen map[string]*Individual
}

// mutate mutates st, drawing again (up to 20 times, Geneva's
// --allowed-retries) when the mutant is empty or was tried and failed.
func (e *evolution) mutate(rng *rand.Rand, gen strategy.Gen, st *strategy.Strategy) *strategy.Strategy {
	var m *strategy.Strategy
	for range mutationRetries {
		m = gen.Mutate(rng, st)
		if m.Size() == 0 {
			continue
		}
		if old := e.seen[m.String()]; old != nil && old.Fitness < 0 {
			continue
		}
		return m
	}
	if m.Size() == 0 {
		return st
	}
	return m
}

// evaluate tries the strategies not tried before, several at once, and
// returns how many it tried.
func (e *evolution) evaluate(ctx context.Context, sts []*strategy.Strategy, g int) (int, error) {
	var todo []*Individual
	for _, st := range sts {
		dna := st.String()
		if e.seen[dna] == nil {
			ind := &Individual{DNA: dna, Strategy: st, Size: st.Size(), Generation: g}
			e.seen[dna] = ind
			todo = append(todo, ind)
		}
	}
	// Trials wait on the network far more than they use the CPU: several
	// strategies at once, each with its trials at once.
	workers := max(1, 4*e.s.opts.Concurrency/e.opts.Trials)
	var wg sync.WaitGroup
	var next int
	var firstErr error
	for range min(workers, len(todo)) {
		wg.Go(func() {
			for {
				e.mu.Lock()
				if next >= len(todo) || firstErr != nil {
					e.mu.Unlock()
					return
				}
				ind := todo[next]
				next++
				e.mu.Unlock()
				if err := e.try(ctx, ind); err != nil {
					e.mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					e.mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		// Forget what was not tried, so that no result rests on it.
		for _, ind := range todo {
			if ind.Tally.Trials == 0 {
				delete(e.seen, ind.DNA)
			}
		}
	}
	return len(todo), firstErr
}

// try runs ind's trials and sets its fitness.
func (e *evolution) try(ctx context.Context, ind *Individual) error {
	tally, trials, err := e.s.Run(ctx, Attempt{URL: e.opts.URL, From: e.opts.From, Client: ind.Strategy, Trials: e.opts.Trials})
	if err != nil {
		return err
	}
	sum := 0
	var fired []int
	for _, tr := range trials {
		switch tr.Outcome {
		case Success:
			sum += fitSuccess
		case Reset:
			sum += fitReset
		default:
			sum += fitFailure
		}
		if fired == nil {
			fired = make([]int, len(tr.Fired))
		}
		for i, n := range tr.Fired {
			if i < len(fired) {
				fired[i] += n
			}
		}
	}
	f := float64(sum) / float64(len(trials))
	if f > 0 {
		f -= float64(ind.Size)
	}
	for _, n := range fired {
		if n == 0 {
			ind.Unused++
		}
	}
	f -= float64(fitUnused * ind.Unused)
	e.mu.Lock()
	ind.Tally, ind.Fitness = tally, f
	e.mu.Unlock()
	return nil
}
