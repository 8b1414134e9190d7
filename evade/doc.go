// Package evade owns the evasion lab: it measures how often a censorship
// evasion strategy (Geneva's strategy language, package strategy) gets a
// web page through the borders of a private world, trial by trial, and
// joins every trial to the decisions the borders took about it. It is what
// `splinter evade` and `splinter evolve` run.
//
// A Session starts a private world (package lab) and then runs trials of
// a URL from one host. A trial is one HTTP/1.1 GET (over TLS for https)
// of the URL, sent straight to the address of the web host that serves
// the URL's site (the site's address from the plan, not a DNS answer: the
// lab studies the TCP and HTTP layers, not DNS poisoning), with the
// client-side strategy applied to the client host's packets and the
// server-side strategy to the web host's, both through world.Host.Shim.
// Each trial has its own strategy.Engine (its own gas and randomness, from
// the session's seed), as each of Geneva's evaluations runs a fresh
// engine. One session can run trials from several hosts. A trial ends as one of
// four outcomes: success (the status and the exact bytes the site serves
// for that request: its own page, computed from the site's content by
// package website, never a block page), reset (a RST ended the
// connection), timeout, or other (a block page, an HTTP 400 from a
// confused server, a connection closed before a full answer...), with a
// reason from a closed set.
//
// # Isolation of trials
//
// Trials must not see each other's traces in the censor. Three things
// ensure it:
//
//   - a fresh client port for every trial: the client host's packets pass
//     a port translation on the wire side of its stack (before the
//     strategy, so the strategy and the borders see the wire port), which
//     gives each trial a port from Linux's ephemeral range (32768-60999)
//     that no earlier trial of the session used with the same server port;
//     so no trial meets the border's flow state of another;
//   - distinct 3-tuples at once: the web host also serves the site on a
//     pool of extra ports (1024 by default; the same content, from the
//     same website package), and trials that run at the same time use
//     distinct server ports, so a residual block keyed by (client IP, server IP, server
//     port) that one trial sets off covers none of the others. When a
//     censor on the path scopes a TCP rule by port, the pool is the URL's
//     own port only and trials run one at a time. When every block on the
//     path is keyed by the whole 4-tuple (Kazakhstan's residual block),
//     a block covers only the connection that set it off, whose client
//     port no other trial uses: trials then share server ports, run at
//     once, and no port is set aside;
//   - residual windows skipped honestly: the lab's clock is a
//     clock.Offset. A server port whose trial set off a residual block or
//     a null route (a decision with border.EffectBlock) is not used again
//     until the clock has jumped past the longest residual window of the
//     borders on the path; when no clean port is left, the session waits
//     for the trials in flight, then jumps the clock (firing every timer
//     that came due) and counts the jump. Results say how many jumps, how
//     much world time they skipped, and how many trials met an enforced
//     block anyway (ResidualHits, which should be 0).
//
// Session.Evolve searches the strategy language for client-side strategies
// that get a URL through, as Geneva's evolve.py does (population, mutation
// with rejection, crossover, elite clones, tournaments; Geneva's fitness
// with its complexity and unused-tree penalties), trying each new
// strategy a few times in the same world; it is bounded in generations and
// in real time.
//
// Decisions are joined to trials by flow: every decision whose two
// endpoints are the trial's wire client address and its server address
// (in either order, since a strategy may make the border take the server
// for the client) belongs to the trial, with its border.Decision.FlowID.
//
// It does not model censors (package border), hosts' TCP (internal
// netstack) or paths (world), and it parses no strategy (package
// strategy): it composes them and counts.
package evade
