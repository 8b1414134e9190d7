// Package policy owns the language a border's censorship policy is written in:
// the canonical typed Go configuration (Policy, List, Rule, Scope, Inspect),
// the YAML adapter onto it (Load, LoadFile), validation that collects every
// problem with its file:line:column (Validate, Error), the reading of list
// files (plain lines, hosts files, Citizen Lab test-list CSV, domain lists,
// Roskomnadzor's dump.csv) and the compiled
// list structures an engine queries on the fast path (DomainSet, RegexSet,
// KeywordSet, PrefixSet, PortSet behind Compiled).
//
// It also owns the registry of matcher kinds (what a rule looks at: "dns",
// "tls-sni", "http", "quic-sni", "fully-encrypted", ...) and action kinds
// (what a rule does: "rst", "dns-inject", "residual", "throttle", ...), and
// the vocabulary kinds share (Side, DomainMode, Peer, FlowDir,
// Fingerprint). A kind is defined once, in the package that gives it
// behaviour: package border defines every built-in kind (its config struct
// with Validate, its compile step and what it does on the wire, in one file)
// and registers it here; a program that loads policies imports border. The
// package does not inspect packets and does not act on them.
//
// A policy is built either in Go or by Load from YAML; both go through
// (*Policy).Validate. Load runs Validate itself so one *Error reports decode
// and validation problems together. Every rule must carry an ID, a Source
// citation and a Year: splinter's profiles state where each behaviour comes
// from, so a rule without a citation is an error, not a warning.
//
// It also owns a censor's history (History, LoadHistory): the policy over
// time as dated versions, each after the first written as the cited
// changes it made to the one before (rules added, removed, or changed by
// path; lists and boxes set), never a copied rule; versions share what
// they do not change. Rules' active windows (Window, with several Periods)
// say when a rule is in force; the engine follows the world's clock.
//
// The YAML form is documented, with a complete example, in README.md; a test
// loads and validates that example.
package policy
