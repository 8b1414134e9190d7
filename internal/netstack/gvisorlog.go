package netstack

import (
	"os"
	"sync"
	"time"

	gvlog "gvisor.dev/gvisor/pkg/log"
)

// LogEnv names the environment variable that lets gVisor's own log through
// to standard error (any non-empty value): for debugging the stacks.
const LogEnv = "SPLINTER_NETSTACK_LOG"

var quietOnce sync.Once

// quietGVisor silences gVisor's process-wide logger, which writes
// glog-style warnings to standard error ("handleListenSegment() failed
// ... connection aborted" for every handshake a crafted segment aborts).
// Those are the expected outcome of evasion trials, not faults, and they
// would flood the output of splinter evade and evolve. Called before the
// first stack is built.
//
// The logger is changed in place rather than replaced (gVisor's SetTarget
// stores a new one): rate-limited loggers that gVisor's packages build at
// init, such as ipv4's for martian packets, hold the first logger, and a
// replacement would leave them writing ("Martian packet dropped with
// loopback source address" in the middle of an evolve search).
func quietGVisor() {
	quietOnce.Do(func() {
		if os.Getenv(LogEnv) == "" {
			gvlog.Log().Emitter = discard{}
		}
	})
}

// discard is a gVisor log emitter that drops everything.
type discard struct{}

func (discard) Emit(int, gvlog.Level, time.Time, string, ...any) {}
