// Package lab is splinter's composition root: the one place that assembles
// the parts into a running laboratory, in the order data flows. It loads a
// scenario and resolves every policy its borders name (one resolver for
// check, run, measure and up, with the same errors); builds one censor
// engine (package border) per border and starts the world (package world)
// with those engines as its gateways, all on one clock; starts the services
// a measurement needs on the control host (the test helper; Services lists
// them); chooses vantages and builds probers (package probe); reads inputs,
// and makes the names of a test list that the world does not know sites of
// it (WithNames); runs a campaign, scores it against the decision log
// (package score) and writes the outputs (package report).
//
// A run streams (pipeline.go): one goroutine takes the borders' decisions
// (through the log's hook) and the measurements as they are made, in the
// order they happened, and hands each to the JSON lines files (whole records),
// to the results store (package store, RunOptions.Store) and to the scoring
// stream (score.Stream), which joins a measurement once its window has
// closed; the report is built item by item (report.Builder). Memory thus
// grows with the world, not with the run. An interrupted run scores and
// writes what it measured and says so. RunOptions.Repeat measures the
// list many times over, each copy under paths of its own that the sites
// serve (RepeatInputs): a campaign of any size on the same world. Shard
// splits a run's (vantage, input) pairs among processes writing one
// stored run, and ScoreStored scores a stored run again from the union of
// its shards (store.go).
//
// It also keeps the world's date: a lab's clock says what day it is in the
// world (Options.At starts an offset clock there), every border whose
// scenario names a censor's history applies the version in force at that
// date and changes engine when the clock reaches the next version
// (date.go), and Timeline measures one world at several dates, jumping its
// clock between them (timeline.go).
//
// With a transparency log (Transparency; a run with an output directory
// keeps one in it) every border enforces only a logged policy version: the
// lab appends the version, has witnesses cosign, and builds the border only
// after the version's inclusion proof verifies against the trust of its
// jurisdiction; decisions cite the version's log index and the run is
// audited against the logged policies (score.Audit). Govern replays a
// governance file (package governance) on a world: it logs every step,
// outcome and adopted version and measures each proposal's effect.
//
// The command line (package cli) only presents what this package does, and
// the tests that assert the default scenario's accuracy run through Run,
// exactly as `splinter run` does.
//
// It owns no behaviour of its own: how packets move is world's, what a
// censor does is border's, what a measurement concludes is probe's.
package lab
