// Package policylog owns the transparency log of policy versions and
// governance steps: an append-only Merkle log, stored and served in the C2SP
// formats, that anyone can verify offline.
//
// What it holds. Every entry is one JSON object (Entry), the canonical
// serialisation of either
//   - a policy version (EntryPolicyVersion): a policy's name, jurisdiction,
//     version label, effective date and the SHA-256 of its canonical bundle
//     (PolicyVersion: the policy YAML as loaded plus every list and body file
//     it reads, byte for byte), or
//   - a governance record (EntryGovernance): one dated step of a proposal
//     going through a forum (filed, comment window opened or closed,
//     objection, consensus designation, vote, adoption, withdrawal, effective
//     date) or its outcome. Package governance produces these; this package
//     only defines their schema.
//
// The bundles themselves are stored beside the log, content-addressed
// (policies/<sha256>): a tlog-tiles entry is at most 65535 bytes, and a
// policy with its lists is often larger (CN's is megabytes), so the leaf
// commits to the bundle by hash, as the Go checksum database commits to
// module zips.
//
// Formats, all C2SP:
//   - storage and serving: tlog-tiles (tile/<L>/<N>[.p/<W>] hash tiles of
//     height 8, tile/entries/<N>[.p/<W>] entry bundles of uint16
//     length-prefixed entries, checkpoint), RFC 6962 hashing with SHA-256;
//   - tree heads: tlog-checkpoint signed notes with an Ed25519 key
//     (golang.org/x/mod/sumdb/note);
//   - witnesses: tlog-witness's add-checkpoint exchange (Witness checks the
//     log's signature and a consistency proof from the size it last cosigned
//     before cosigning) and tlog-cosignature/v1 Ed25519 cosignatures;
//   - proofs: tlog-proof, an offline-verifiable inclusion proof whose extra
//     data is the entry itself, so VerifyPolicy can check "this policy is in
//     a checkpoint signed by log key L and cosigned by a quorum of witnesses
//     W1..Wn" with nothing but the policy bytes, the proof and a Trust.
//
// The Merkle tree arithmetic (stored hashes, tiles, inclusion and
// consistency proofs) is golang.org/x/mod/sumdb/tlog; notes and Ed25519 log
// signatures are golang.org/x/mod/sumdb/note; cosignature verification,
// checkpoint parsing and the tlog-proof encoding are
// github.com/transparency-dev/formats. Written here: the C2SP tile paths
// (x/mod's paths carry the tile height, C2SP's do not), the on-disk layout,
// the witness's state machine, and the cosigner (formats' cosigner reads the
// wall clock; ours takes an injected clock so that a replayed history is
// reproducible byte for byte).
//
// A log is one directory:
//
//	checkpoint                 the latest checkpoint, with its cosignatures
//	tile/<L>/<N>[.p/<W>]       hash tiles
//	tile/entries/<N>[.p/<W>]   entry bundles
//	policies/<sha256 hex>      policy bundles (PolicyVersion.Canonical)
//	checkpoints/<size>         every checkpoint the log issued, cosigned
//	log.vkey                   the log's verifier key
//	log.key                    the log's signer key (0600; never served)
//	witnesses/<name>.vkey      cosignature verifier keys of the witnesses
//
// Handler serves checkpoint, tile/ and policies/ and nothing else. The log
// keeps its stored hashes and entries in memory (about 100 bytes an entry);
// it is meant for the thousands of versions and steps of a lab, not for a
// certificate log.
//
// This package does not decide anything: package governance replays forums
// and proposals, and the composition root applies logged versions to borders.
package policylog
