package governance

import (
	"fmt"

	"github.com/splinter-lab/splinter/policylog"
)

// WouldChange returns the policy changes the proposal of that ID would make
// if it were adopted with effective day eff: what Replay puts in an adopted
// Outcome. A lab uses it to measure, under every forum alike, the
// jurisdictions and names a proposal is about, whatever the forum decides.
func (f *File) WouldChange(proposal string, eff policylog.Day) ([]PolicyChange, error) {
	r := &replayer{f: f, actors: map[string]*Actor{}, blocs: map[string]*Bloc{}}
	for i := range f.Actors {
		r.actors[f.Actors[i].ID] = &f.Actors[i]
	}
	for i := range f.Blocs {
		r.blocs[f.Blocs[i].ID] = &f.Blocs[i]
	}
	for i := range f.Proposals {
		if f.Proposals[i].ID == proposal {
			return r.changes(&f.Proposals[i], eff), nil
		}
	}
	return nil, fmt.Errorf("governance: %s: no proposal %q", f.Name, proposal)
}
