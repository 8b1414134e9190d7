package lab

import (
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"

	"github.com/splinter-lab/splinter/probe"
)

// Shard is one of Count parts of a run: the (vantage, input) pairs whose
// hash falls to Index. The zero value is the whole run.
type Shard struct {
	Index, Count int
}

// JobIndexEnv is the variable a Kubernetes Indexed Job sets to each pod's
// index: ParseShard reads a shard's index from it when the flag omits it.
const JobIndexEnv = "JOB_COMPLETION_INDEX"

// ParseShard reads "I/N" (shard I of N, from 0), or "/N" with I from
// $JOB_COMPLETION_INDEX.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, badInput(fmt.Errorf("shard %q: want I/N (shard I of N, from 0), or /N with I from $%s", s, JobIndexEnv))
	}
	if i == "" {
		i = os.Getenv(JobIndexEnv)
		if i == "" {
			return Shard{}, badInput(fmt.Errorf("shard %q: no index before the slash and $%s is not set", s, JobIndexEnv))
		}
	}
	var sh Shard
	var err1, err2 error
	sh.Index, err1 = strconv.Atoi(strings.TrimSpace(i))
	sh.Count, err2 = strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Shard{}, badInput(fmt.Errorf("shard %q: want I/N with whole numbers", s))
	}
	if err := sh.valid(); err != nil {
		return Shard{}, err
	}
	return sh, nil
}

func (sh Shard) String() string {
	if sh.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", sh.Index, sh.Count)
}

func (sh Shard) valid() error {
	if sh.Count == 0 && sh.Index == 0 {
		return nil
	}
	if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return badInput(fmt.Errorf("shard %d/%d: want 0 <= I < N", sh.Index, sh.Count))
	}
	return nil
}

// Includes reports whether the shard measures input from vantage: the
// 64-bit FNV-1a hash of the vantage's name and the input's URL, modulo
// Count, is Index. Every process computes the same, whatever the order of
// its vantages and inputs.
func (sh Shard) Includes(vantage, input string) bool {
	if sh.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(vantage))
	h.Write([]byte{0})
	h.Write([]byte(input))
	return h.Sum64()%uint64(sh.Count) == uint64(sh.Index)
}

// include is Includes over a campaign's pairs; nil for the whole run.
func (sh Shard) include(vantages []string, inputs []probe.Input) func(probe.Pair) bool {
	if sh.Count <= 1 {
		return nil
	}
	return func(p probe.Pair) bool { return sh.Includes(vantages[p.Prober], inputs[p.Input].URL) }
}
