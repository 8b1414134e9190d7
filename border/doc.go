// Package border is the censor engine that sits on a border's forwarding
// path: it compiles a policy.Policy into rules, keeps all per-flow state in
// its own flow table, applies each rule's matchers to the packets the rule
// inspects, carries out its actions (drop, forged DNS answers, RST and block
// page injection, throttling, residual blocking, null routes), and records
// every decision it takes in a Log: the ground truth that measurements are
// scored against.
//
// Every matcher and action kind is defined here once, one file each
// (match_*.go, action_*.go): its config struct (what a policy's YAML says,
// with Validate), its Compile step and its behaviour, registered with
// RegisterMatcher or RegisterAction. A kind defined in another package
// implements MatcherConfig or ActionConfig and registers itself the same
// way; nothing here changes. A kind also declares what scoring needs: the
// Layer a matcher looks at and the Effect an action has, which every
// Decision carries.
//
// It does not parse the policy language (package policy does), parse
// application wire formats (package dissect does), or move packets between
// hosts (package world does; an Engine is a world.Gateway and receives the
// router's parsed view of each packet).
//
// TCP rules run on the policy's TCP boxes (policy.TCPBox): each box keeps
// its own TCB per flow (tcb.go, tcbstream.go), which decides whom it takes
// for the client, which packets and bytes its rules see, and how resets,
// FINs with payload, odd flags, repeated handshake packets, overlapping and
// out-of-order segments tear it down, resynchronise it or are joined: the
// censor's TCP state model that evasion strategies play against. A policy
// that reassembles IPv4 fragments (policy.IPModel) has them joined first
// (fragments.go), within bounds of packets held and time, and the whole
// packet goes where an unfragmented one would; the fragments themselves
// pass as they came.
//
// An active-probe action makes the border a prober as well (prober.go):
// it opens TCP connections of its own from addresses of its jurisdiction,
// on the same middlebox stack a transparent proxy runs on (proxy.go),
// sends replays and random payloads to the server of a suspicious flow,
// judges its reactions and may block it; Process hands the replies to
// those connections to the middlebox before any rule sees them.
//
// Rules are immutable once compiled and shared by every flow; state that
// changes (reassembly buffers, which rules are done with a flow, residual
// timers, token buckets) lives in the engine's flow and block tables, never
// on a rule. Time and randomness are injected (Config.Clock, Config.Rand) so
// that a 90-second residual window or a 26% trigger probability is tested
// exactly and quickly.
package border
