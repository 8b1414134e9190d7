package store

// The schema is written once, as data: tables of abstract column types that
// each dialect renders (dialect.go), and a list of versioned migrations that
// build it step by step. The migrations are the truth: a new column or table
// is a new migration appended to the list, never an edit of an old one.

// colType is an abstract column type.
type colType int

const (
	tText     colType = iota // text, never NULL ("" when absent)
	tTextNull                // text or NULL
	tInt                     // 64-bit integer
	tIntNull                 // 64-bit integer or NULL
	tReal                    // double
	tRealNull                // double or NULL
	tBool                    // boolean
	tBoolNull                // boolean or NULL
	tJSON                    // a JSON document, kept byte for byte
)

type column struct {
	name string
	typ  colType
}

// table is one table: its columns, its key (unique; the ORDER BY of a
// ClickHouse ReplacingMergeTree, where a later row with the same key
// replaces an earlier one) and its secondary indexes (SQL dialects only).
type table struct {
	name    string
	cols    []column
	key     []string
	indexes [][]string
}

// step is one schema change.
type step struct {
	create *table   // create a table (and its indexes)
	add    string   // or add a column to this table
	col    column   // the column to add
	index  []string // or add an index on these columns of table add
}

// migration is one version of the schema.
type migration struct {
	version int
	name    string
	steps   []step
}

// migrationsTable records the applied versions.
var migrationsTable = table{
	name: "schema_migrations",
	cols: []column{{"version", tInt}, {"name", tText}, {"applied_ns", tInt}},
	key:  []string{"version"},
}

var (
	runsV1 = table{
		name: "runs",
		cols: []column{
			{"run_id", tText},
			{"scenario", tText},
			{"description", tText},
			{"simulated_ns", tIntNull}, // the date the world simulated, if set
			{"created_ns", tInt},
			{"software_name", tText},
			{"software_version", tText},
			{"shards", tInt},
			{"profiles", tJSON}, // [{name, jurisdiction, year, version}]
			{"labels", tJSON},   // {key: value}
		},
		key: []string{"run_id"},
	}
	partsV1 = table{
		name: "run_parts",
		cols: []column{
			{"run_id", tText},
			{"writer", tText},
			{"shard", tInt},
			{"shards", tInt},
			{"status", tText},
			{"started_ns", tInt},
			{"updated_ns", tInt},
			{"finished_ns", tIntNull},
			{"measurements", tInt},
			{"decisions", tInt},
			{"health", tJSON},
			{"end_health", tJSON},
		},
		key: []string{"run_id", "writer"},
	}
	measurementsV1 = table{
		name: "measurements",
		cols: []column{
			{"run_id", tText},
			{"vantage", tText},
			{"input", tText},
			{"uid", tText},
			{"writer", tText},
			{"report_id", tText},
			{"domain", tText},
			{"category", tText},
			{"probe_cc", tText},
			{"probe_asn", tInt},
			{"probe_network_name", tText},
			{"probe_ip", tText},
			{"resolver_ip", tText},
			{"resolver_asn", tInt},
			{"start_ns", tInt},
			{"runtime", tReal},
			{"verdict", tText},
			{"blocking", tText},
			{"methods", tText},
			{"reason", tText},
			{"accessible", tBoolNull},
			{"dns_consistency", tTextNull},
			{"dns_experiment_failure", tTextNull},
			{"http_experiment_failure", tTextNull},
			{"control_failure", tTextNull},
			{"body_length_match", tBoolNull},
			{"body_proportion", tRealNull},
			{"status_code_match", tBoolNull},
			{"headers_match", tBoolNull},
			{"title_match", tBoolNull},
			{"dns_race", tBool},
			{"throughput_bps", tRealNull},
			{"residual_blocked", tBoolNull},
		},
		key: []string{"run_id", "vantage", "input"},
		indexes: [][]string{
			{"uid"},
			{"run_id", "probe_cc", "category"},
			{"run_id", "verdict"},
			{"run_id", "domain"},
			{"run_id", "category"},
		},
	}
	// The measurements' OONI JSON lives apart, so that scans of the
	// measurements table stay narrow.
	measurementJSONV1 = table{
		name: "measurement_json",
		cols: []column{
			{"run_id", tText},
			{"vantage", tText},
			{"input", tText},
			{"writer", tText},
			{"ooni", tJSON},
		},
		key: []string{"run_id", "vantage", "input"},
	}
	obsWebV1 = table{
		name: "obs_web",
		cols: []column{
			{"run_id", tText},
			{"vantage", tText},
			{"input", tText},
			{"idx", tInt},
			{"writer", tText},
			{"probe_cc", tText},
			{"probe_asn", tInt},
			{"hostname", tText},
			{"ip", tText},
			{"port", tIntNull},
			{"transport", tText},
			{"ip_asn", tIntNull},
			{"dns_query_type", tTextNull},
			{"dns_engine", tTextNull},
			{"dns_resolver", tTextNull},
			{"dns_failure", tTextNull},
			{"dns_rcode", tTextNull},
			{"dns_answer_type", tTextNull},
			{"dns_answer", tTextNull},
			{"dns_answer_late", tBoolNull},
			{"dns_t", tRealNull},
			{"tcp_success", tBoolNull},
			{"tcp_failure", tTextNull},
			{"tcp_blocked", tBoolNull},
			{"tcp_t", tRealNull},
			{"tls_server_name", tTextNull},
			{"tls_version", tTextNull},
			{"tls_cipher_suite", tTextNull},
			{"tls_alpn", tTextNull},
			{"tls_success", tBoolNull},
			{"tls_failure", tTextNull},
			{"tls_failed_operation", tTextNull},
			{"tls_certificate_chain_length", tIntNull},
			{"tls_t", tRealNull},
			{"http_request_url", tTextNull},
			{"http_request_method", tTextNull},
			{"http_failure", tTextNull},
			{"http_response_status_code", tIntNull},
			{"http_response_body_length", tIntNull},
			{"http_response_body_is_truncated", tBoolNull},
			{"http_response_body_sha1", tTextNull},
			{"http_response_header_location", tTextNull},
			{"http_response_header_server", tTextNull},
			{"http_t", tRealNull},
		},
		key: []string{"run_id", "vantage", "input", "idx"},
	}
	decisionsV1 = table{
		name: "decisions",
		cols: []column{
			{"run_id", tText},
			{"writer", tText},
			{"seq", tInt},
			{"digest", tText},
			{"time_ns", tInt},
			{"border", tText},
			{"jurisdiction", tText},
			{"policy", tText},
			{"rule", tText},
			{"action", tText},
			{"enforced", tBool},
			{"proto", tText},
			{"client_ip", tText},
			{"client_port", tInt},
			{"server_ip", tText},
			{"server_port", tInt},
			{"direction", tText},
			{"evidence_kind", tText},
			{"evidence_value", tText},
			{"evidence", tJSON},
			{"detail", tText},
			{"source", tText},
			{"year", tIntNull},
			{"raw", tJSON},
		},
		key: []string{"run_id", "writer", "seq"},
		indexes: [][]string{
			{"run_id", "digest"},
			{"run_id", "jurisdiction", "rule"},
			{"run_id", "client_ip"},
		},
	}
)

// Version 2: the scoring and the rules behind a run.
var (
	scoresV2 = table{
		name: "scores",
		cols: []column{
			{"run_id", tText},
			{"vantage", tText},
			{"input", tText},
			{"domain", tText},
			{"category", tText},
			{"probe_cc", tText},
			{"measured", tText},
			{"truth", tText},
			{"agree", tBool},
			{"explanation", tText},
		},
		key: []string{"run_id", "vantage", "input"},
		indexes: [][]string{
			{"run_id", "truth"},
			{"run_id", "agree"},
		},
	}
	scoreDecisionsV2 = table{
		name: "score_decisions",
		cols: []column{
			{"run_id", tText},
			{"vantage", tText},
			{"input", tText},
			{"digest", tText},
		},
		key: []string{"run_id", "vantage", "input", "digest"},
	}
	rulesV2 = table{
		name: "rules",
		cols: []column{
			{"run_id", tText},
			{"policy", tText},
			{"rule", tText},
			{"jurisdiction", tText},
			{"description", tText},
			{"source", tText},
			{"year", tIntNull},
		},
		key: []string{"run_id", "policy", "rule"},
	}
)

// migrations build the schema, in order. Never edit a shipped one: append.
var migrations = []migration{
	{1, "runs, parts, measurements, measurement_json, obs_web, decisions", []step{
		{create: &runsV1},
		{create: &partsV1},
		{create: &measurementsV1},
		{create: &measurementJSONV1},
		{create: &obsWebV1},
		{create: &decisionsV1},
	}},
	{2, "scores, rules, decisions.log_index, covering indexes", []step{
		{create: &scoresV2},
		{create: &scoreDecisionsV2},
		{create: &rulesV2},
		{add: "decisions", col: column{"log_index", tIntNull}},
		// Heatmaps and the keys of filtered pages read these indexes
		// without the table.
		{add: "measurements", index: []string{"run_id", "probe_cc", "category", "verdict", "vantage", "input"}},
		{add: "measurements", index: []string{"run_id", "verdict", "probe_cc", "vantage", "input"}},
		{add: "scores", index: []string{"run_id", "truth", "probe_cc", "vantage", "input"}},
		{add: "measurements", index: []string{"run_id", "vantage", "input", "verdict"}}, // comparisons
	}},
	{3, "decisions: the typed facts scoring reads (flow id, effect, layer)", []step{
		// Nullable: rows written before version 3 have none.
		{add: "decisions", col: column{"flow_id", tIntNull}},
		{add: "decisions", col: column{"effect", tTextNull}},
		{add: "decisions", col: column{"layer", tTextNull}},
	}},
}

// SchemaVersion is the version of the schema this package writes.
var SchemaVersion = migrations[len(migrations)-1].version
