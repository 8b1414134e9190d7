package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// TestMigrateFromV1 opens a database left by the first version of the
// schema, with a run in it: Open upgrades it, the old run reads as before,
// and what the new version added (scores) works on it.
func TestMigrateFromV1(t *testing.T) {
	f := loadFixture(t)
	for _, tc := range []struct {
		name, driver string
		dsn          func(t *testing.T) string
	}{
		{"sqlite", "sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "old.db") }},
		{"postgres", "pgx", func(t *testing.T) string { return postgresDSN(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "sqlite" {
				skipShort(t)
			}
			ctx := context.Background()
			dsn := tc.dsn(t)
			script, err := os.ReadFile("testdata/v1." + tc.name + ".sql")
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range strings.Split(string(script), ";\n") {
				if strings.TrimSpace(q) == "" || strings.HasPrefix(strings.TrimSpace(q), "--") && !strings.Contains(q, "\n") {
					continue
				}
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%.80s: %v", q, err)
				}
			}
			db.Close()

			s := open(t, dsn)
			if v, err := s.Version(ctx); err != nil || v != store.SchemaVersion {
				t.Fatalf("version %d, %v; want %d", v, err, store.SchemaVersion)
			}
			r, err := s.Run(ctx, "old")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.Complete || r.Measurements != 2 || r.Profiles[0].Name != "CN" {
				t.Errorf("old run: %+v", r)
			}
			page, err := s.Measurements(ctx, store.Query{Run: "old"})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 2 {
				t.Fatalf("old run has %d measurements", page.Total)
			}
			var blocked *probe.Measurement
			for _, m := range f.ms {
				if m.TestKeys.Vantage.Host == "cn-client-1" && m.TestKeys.Verdict == probe.DNS {
					blocked = m
					break
				}
			}
			k := store.Key{Vantage: "cn-client-1", Input: blocked.Input}
			d, err := s.Measurement(ctx, "old", k)
			if err != nil {
				t.Fatal(err)
			}
			// The rows version 1 derived (not necessarily what this version
			// derives from the same measurement).
			if d.Verdict != probe.DNS || d.Truth != "" || len(d.Decisions) != 0 || len(d.Observations) != strings.Count(string(script), "INSERT INTO obs_web (run_id, vantage, input, idx, writer, probe_cc, probe_asn, hostname, ip, port, transport, ip_asn, dns_query_type, dns_engine, dns_resolver, dns_failure, dns_rcode, dns_answer_type, dns_answer, dns_answer_late, dns_t, tcp_success, tcp_failure, tcp_blocked, tcp_t, tls_server_name, tls_version, tls_cipher_suite, tls_alpn, tls_success, tls_failure, tls_failed_operation, tls_certificate_chain_length, tls_t, http_request_url, http_request_method, http_failure, http_response_status_code, http_response_body_length, http_response_body_is_truncated, http_response_body_sha1, http_response_header_location, http_response_header_server, http_t) VALUES ('old', 'cn-client-1'") ||
				d.Observations[0].DNSAnswer == nil || *d.Observations[0].DNSAnswer != "198.18.104.1" {
				t.Errorf("old measurement: %+v", d.Summary)
			}
			n := 0
			for dec, err := range s.Decisions(ctx, "old") {
				if err != nil {
					t.Fatal(err)
				}
				if dec.LogIndex != nil || dec.Digest != store.Digest(dec.Decision) {
					t.Errorf("old decision %+v", dec)
				}
				n++
			}
			if n != 4 {
				t.Errorf("%d old decisions", n)
			}

			// Score the old run with the new version.
			var ms []*probe.Measurement
			for m, err := range s.OONI(ctx, "old") {
				if err != nil {
					t.Fatal(err)
				}
				ms = append(ms, m)
			}
			w, err := s.Begin(ctx, store.Run{ID: "old"}, store.Part{Scoring: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Result(score.Score(ms, f.ds)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
				t.Fatal(err)
			}
			d, err = s.Measurement(ctx, "old", k)
			if err != nil {
				t.Fatal(err)
			}
			if d.Truth != probe.DNS || len(d.Decisions) == 0 {
				t.Errorf("scored old measurement: truth %q, %d decisions", d.Truth, len(d.Decisions))
			}
			r, err = s.Run(ctx, "old")
			if err != nil {
				t.Fatal(err)
			}
			if r.Scenario != "splinternet" || r.SoftwareVersion != "0.1.0" || r.Status != store.Complete || r.Measurements != 2 || len(r.Parts) != 2 {
				t.Errorf("after scoring: %+v", r)
			}
		})
	}
}

// TestNewerSchema: a program meets a database that a newer program
// upgraded: it says so rather than write rows the schema does not expect.
func TestNewerSchema(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "new.db")
	s := open(t, dsn)
	s.Close()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_ns) VALUES (999, 'from the future', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = store.Open(context.Background(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Errorf("Open: %v", err)
	}
}
