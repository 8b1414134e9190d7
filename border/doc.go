// Package border is the censor engine that sits on a border's forwarding
// path: it compiles a policy.Policy into rules, keeps all per-flow state in
// its own flow table, applies each rule's matchers to the packets the rule
// inspects, carries out its actions (drop, forged DNS answers, RST and block
// page injection, throttling, residual blocking, null routes), and records
// every decision it takes in a Log: the ground truth that measurements are
// scored against.
//
// It does not parse the policy language (package policy does), parse
// application wire formats (package dissect does), or move packets between
// hosts (package world does; an Engine is a world.Gateway).
//
// TCP rules run on the policy's TCP boxes (policy.TCPBox): each box keeps
// its own TCB per flow (tcb.go, tcbstream.go), which decides whom it takes
// for the client, which packets and bytes its rules see, and how resets,
// FINs with payload, odd flags, repeated handshake packets, overlapping and
// out-of-order segments tear it down, resynchronise it or are joined: the
// censor's TCP state model that evasion strategies play against.
//
// Rules are immutable once compiled and shared by every flow; state that
// changes (reassembly buffers, which rules are done with a flow, residual
// timers, token buckets) lives in the engine's flow and block tables, never
// on a rule. Time and randomness are injected (Config.Clock, Config.Rand) so
// that a 90-second residual window or a 26% trigger probability is tested
// exactly and quickly.
package border
