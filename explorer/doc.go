// Package explorer serves a results store over HTTP: a JSON API (under
// /api/v1/, described by the OpenAPI 3 document openapi.yaml, which it
// also serves) and a web explorer built on the same reads, for people.
//
// The API lists runs and describes one (its scenario, simulated date,
// profiles, parts and the machine's health), pages through a run's
// measurements with filters (jurisdiction, vantage, category, measured
// and true verdict, disagreements, domain), returns one measurement with
// its evidence chain and the border decisions behind it (each rule with its
// description, source and year), compares two runs (what changed per site
// × vantage and per jurisdiction × category) and aggregates a run into a
// heatmap and the dated runs into a timeline.
//
// The explorer's pages are the runs list; a run (its heatmap of
// jurisdiction × category, the methods of each jurisdiction with the rules
// that acted and their citations); a run's measurements, filtered; a
// measurement (its evidence chain, its observations, its OONI JSON); the
// comparison of two runs side by side; the timeline of dated runs; and
// the glossary of verdicts and methods (package report's, so the static
// report and the explorer say the same). Links are stable: a
// measurement's page is /measurements/{uid}, its JSON
// /api/v1/measurements/{uid}, uid being store.UID of its run and key.
//
// Pages are rendered on the server with html/template, styled by one
// stylesheet and helped by a few lines of JavaScript, all embedded: there
// is nothing to build and nothing is fetched from elsewhere. They read on
// a phone (400 px) as on a desktop: the heatmap puts categories in rows and
// jurisdictions in columns, wide tables scroll inside their box.
//
// It reads only, through package store's read API; it neither measures nor
// scores nor writes, and it does not choose the address it listens on (the
// command line does).
package explorer
