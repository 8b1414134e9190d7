// Package probe measures censorship from a vantage point: the experiments
// (DNS over UDP and TCP with raw exchanges that keep every answer arriving in
// a short window, so an injector racing the real resolver shows; TCP connect;
// TLS handshakes with SNI; HTTP and HTTPS fetches with redirects; QUIC
// handshakes; a throughput test for throttling; a residual test), OONI's
// web_connectivity built from them with its control measurement, the test
// helper that answers OONI's oohelperd protocol (ServeControl) and a client for
// it, and the OONI data format the measurements are written in (df-000 base
// keys, ts-017 test keys, df-007 failure strings).
//
// Probes depend on one small interface, Network (dial, open a UDP socket,
// name the configured resolvers). The emulated world's hosts implement it,
// and so does OS, the machine's own network: the same probe measures either.
// Addresses are netip values; failures are the closed set of df-007 names
// (Classify), never an error's text.
//
// Verdicts follow ts-017 (blocking false, "dns", "tcp_ip", "http-failure",
// "http-diff") and refine it: x_verdict tells "tls", "quic", "throttled" and
// "residual" apart from the plain HTTP failure. When a measurement shows
// several, the first in Verdicts order wins. Bogons are judged by a Geo built
// from the scenario's address plan (PlanGeo), not by OONI's fixed list, which
// would call the whole emulated Internet (198.18.0.0/15) a bogon.
//
// Time is injected (Config.Now, Config.Sleep): the residual test's wait for a
// censor's window is optional and, in tests, need not sleep.
//
// The package does not start worlds, judge measurements against the ground
// truth (package score) or render them (package report). Campaign runs many
// measurements from many vantages with bounded concurrency.
package probe
