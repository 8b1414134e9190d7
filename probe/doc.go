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
// The test helper (Prober.Measure, ControlHandler, ServeControl) answers
// as OONI's oohelperd does, field for field, failure names included
// (dns_name_error, connection_refused_error, connect_error,
// dns_lookup_error, unknown_error: ControlFailures); Measure's doc lists
// the few places where the emulated world makes it differ, and
// testdata/oohelperd holds oohelperd's answers it is tested against.
//
// Verdicts follow ts-017 (blocking false, "dns", "tcp_ip", "http-failure",
// "http-diff") and refine it: x_verdict tells "tls", "quic", "throttled" and
// "residual" apart from the plain HTTP failure, and says "down" and
// "nonexistent" where OONI sets blocking false and accessible false. When a
// measurement shows several, the first in Verdicts order wins:
//
//	verdict       when                                               blocking       accessible
//	dns           the probe's answer (or the foreign resolver's) is  "dns"          false
//	              inconsistent with the control's
//	tcp_ip        every connect to the site's addresses failed,      "tcp_ip"       false
//	              also when tried again, while the control connected;
//	              or the address takes no request: after a block, a
//	              benign request failed, and so did one made before
//	              the measurement's own; or every download froze,
//	              with SNI and without
//	residual      after an http-diff, http-failure or tls block, a   "http-failure" false
//	              benign request to the same endpoint failed too,
//	              where one to the address before the measurement's
//	              own requests was answered
//	http-diff     the plain HTTP answer differs from the control's   "http-diff"    false
//	http-failure  the fetch failed over plain HTTP, or after its TLS "http-failure" false
//	              handshake, while the control's fetch succeeded
//	tls           a TLS handshake failed after its connect (the      "http-failure" false
//	              fetch's own, or one with a site address), with the
//	              same endpoint and SNI where the control's succeeded
//	quic          a QUIC handshake failed where the control's worked "http-failure" false
//	throttled     downloads with SNI ran far slower than without     false          true
//	              (downloads that froze are not slow: tcp_ip or tls)
//	nonexistent   NXDOMAIN for the probe and the control alike: the  false          false
//	              name exists nowhere
//	down          the control could not fetch the page either, and   false          false
//	              the probe got none: the website is down
//	accessible    none of the above                                  false          true
//	unknown       no control measurement; or the control's own       null           null
//	              lookup failed (unknown_error) and the probe got no
//	              page: nothing to judge by; or the throughput test
//	              could not tell, measured again (see below)
//
// So an https:// URL whose handshake a censor resets by SNI is "tls", as
// its http:// form is (whose TLS step fails alike): the fetch's failure in
// its own handshake is the TLS failure, not an HTTP one. An IP-literal URL
// skips DNS (ts-017) and its DNS is consistent. Bogons are judged by a Geo
// built from the scenario's address plan (PlanGeo), not by OONI's fixed
// list, which would call the whole emulated Internet (198.18.0.0/15) a
// bogon.
//
// The analysis rules, each a refinement of ts-017 that keeps a lab's
// transients (a loaded path, a cold cache) from reading as censorship, since
// a censor does the same thing every time and a transient does not:
//
//   - DNS consistency: an answer is consistent when it shares an address or
//     an ASN with the control's, or when one of its addresses presented a
//     certificate valid for the name (to the probe or, ip_info's
//     valid-for-domain flag, to the control). When the control could not
//     resolve the name, a valid certificate still makes the answer
//     consistent, an address in no network (Geo.Unassigned: in a
//     jurisdiction's block, announced by no one) makes it inconsistent, and
//     anything else gets the benefit of the doubt. The control client does
//     not cache an answer whose lookup failed for no reason the name
//     explains (the helper's unknown_error: a timeout, a SERVFAIL).
//   - DNS timeouts: a query that timed out is asked once more with twice the
//     timeout (x_retried) before a timeout is recorded. Answers, forged or
//     not, are never asked again.
//   - tcp_ip: only for consistent DNS (a forged address need not exist),
//     only when the control connected, and only when the connects still all
//     time out when tried again after Config.ConnectRetryPause (x_retried on
//     the connects and on the TLS handshakes that timed out at connect). A
//     refused connect is a deliberate answer and is not retried.
//   - tls: a handshake that failed after its TCP connect, to an address the
//     control resolved too (or the URL's own, for an IP literal), where the
//     control's handshake succeeded; or the fetch's own handshake, where the
//     control's handshake with that endpoint and name succeeded.
//   - throttled: the first download with SNI ran under Config.ThrottledBelow,
//     then pairs of downloads side by side, one without SNI (the baseline)
//     and one with; a download with SNI is compared only with the baseline
//     made beside it, never with one of another moment (a busy machine
//     slows every download, by a factor that changes from one second to the
//     next). A pair is judged when both completed and its baseline ran at
//     least at the threshold, and shows the gap when its baseline ran at
//     least Config.ThrottleRatio (2.5) times as fast as the download with
//     SNI, under the threshold. Throttled needs two pairs judged, the gap in
//     most of them, and the median download with SNI under the threshold (a
//     first-packet censor misses a flow now and then). At most four pairs
//     are made. Fewer than two pairs judged and fewer than two fast
//     downloads with SNI leave the test inconclusive (x_throughput's
//     inconclusive): the path or the machine ran too slow to tell.
//
// Steady under load (Config.Pacer, Config.Retries): a verdict that rests on
// a timeout (x_timeout: the step whose timeout, or slowness, it follows
// from, TimeoutBasis) is measured again, the whole measurement, after
// Config.RetryPause; the earlier attempts are in x_attempts. A censor does
// the same thing again, a busy machine seldom does. An accessible verdict
// whose throughput test was inconclusive is measured again too, and when
// the last attempt is still inconclusive the verdict is unknown with the
// reason "cannot judge throttling": a site the test cannot judge is not
// called accessible. A Pacer, shared by a campaign's probers and the helper,
// stretches every timeout by a factor drawn from the scheduling delay and
// the world's round trip, and bounds the measurements in flight to what the
// machine keeps up with; Health sums a run up and warns when the machine
// was too busy for its figures to be trusted.
//
// Time is injected (Config.Clock): the residual test's wait for a
// censor's window is optional and, in tests, need not sleep.
//
// The package does not start worlds, judge measurements against the ground
// truth (package score) or render them (package report). Campaign runs many
// measurements from many vantages with bounded concurrency.
package probe
