// Package scenario owns the description of an emulated world: its
// jurisdictions, their borders and networks, the hosts and the web sites. It
// holds the canonical typed configuration (Scenario), the YAML adapter onto
// it (Load, LoadFile), its validation (Validate, which collects every
// problem into an *Error whose lines read "file:line:column: message"), the
// address plan (Plan: every address, generated host, DNS zone and site page,
// allocated deterministically; Plan.WithSites adds sites, such as the names
// of a test list, without moving anything) and the embedded scenarios
// (Names, Embedded, Open; Default is "splinternet").
//
// Scenario does not build or run anything: the world package builds a
// running network from a Plan, and policy names in borders are checked
// against the policy package by the CLI, not here.
//
// Every address a scenario uses lies in AllowedRanges (benchmarking and
// documentation ranges that are never routed), so an emulated world cannot
// be mistaken for the real Internet. The YAML format, the address plan and
// the DNS layout are described, with a complete example that a test loads,
// in README.md.
//
// The configuration types carry a Pos for errors; a scenario built in Go
// leaves them zero and its problems are reported without positions. The
// zero Scenario is not valid (it has no name and no jurisdiction); the zero
// Link, Border and Pos are usable and mean "unimpaired", "no policy" and
// "unknown".
package scenario
