// Package governance owns who decides what a border enforces: forums and
// their decision rules, proposals with dated steps, the positions actors
// take, and the replay of a proposal through a forum to an explained
// outcome.
//
// A governance file (YAML; Load, LoadFile, Open; the canonical type is
// File, checked by Validate, every problem reported at once as
// file:line:column with the offending value) declares
//   - actors: states (with their jurisdiction code), companies, civil
//     society, the technical community, academia, intergovernmental
//     committees, each with the time it needs to respond to a text;
//   - blocs: named groups of states (SCO);
//   - forums, each citing the documented procedure it follows (source:):
//     sovereign (one authority decides alone; comments are recorded, not
//     binding), multilateral (member states only; consensus, where any
//     member present in the window can block and a reservation is
//     recorded, as in the SCO Charter art. 16 and UN GGE reports; or one
//     state one vote by a stated majority of those present and voting,
//     with a quorum, as in the ITU), multi-stakeholder (houses of
//     stakeholder groups; initiation by more than a threshold of each
//     house, a majority of one, or an advisory committee; an issue report
//     after a delay that also decides scope; a comment window of at least
//     a minimum; the GNSO consensus levels or IETF rough consensus; minority
//     views recorded; adoption by a council supermajority across houses);
//   - proposals: a change (names added to or removed from a list, a
//     technique, or the shared root zone) for one jurisdiction, every
//     member of a bloc, or the states that sign, with its filing time,
//     comment window, effective date and the actors' positions.
//
// Replay(file, forum) runs each proposal through its forum, or through the
// forum named to compare models side by side. The mechanism is explicit
// and deterministic: an actor whose response time is longer than the
// comment window cannot register its position (a text circulated at night
// with hours to object); a forum's minimum comment period extends a
// shorter window; the rule of the forum then decides. Each Outcome lists
// the dated steps, the decision, the rule that decided and why, the
// consensus level, the minority views, the effective date (never before
// the day after the decision) and the PolicyChanges per jurisdiction.
// Outcome.Entries are the policylog records of every step and of the
// outcome.
//
// PolicyChange.Apply makes the policy version a names change results in;
// PolicyChange.ApplyTechnique the version a technique change results in
// (a template's rule added); File.WouldChange says what a proposal would
// change if adopted, whatever the forum decides.
//
// The package does not touch borders or measure anything: the composition
// root applies the PolicyChanges of adopted proposals as new policy
// versions, logs them (policylog) and has borders enforce them from their
// effective dates.
package governance
