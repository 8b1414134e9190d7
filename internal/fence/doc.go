// Package fence holds the module's dependency fences, as tests: only
// internal/netstack imports gVisor; data flows one way, scenario → world →
// border → probe → score → report, and no package of that chain imports
// one that comes later; world knows nothing of policies; every package says
// what it owns in a doc comment. It is modelled on Tailscale's
// tstest/deptest. It has no code of its own.
package fence
