package lab_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/lab"
)

// TestControlHostServesOONI: every lab serves, on its control host, the test
// helper and the OONI probe services around it, and a client of the world
// reaches them by the host's name over HTTPS (the scenario CA) and the
// helper over HTTP.
func TestControlHostServesOONI(t *testing.T) {
	l, err := lab.Start(context.Background(), "two-lands", lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u := l.Services()
	if !strings.HasPrefix(u.ProbeServices, "https://") || len(u.TestHelpers["web-connectivity"]) == 0 || len(u.STUN) == 0 {
		t.Fatalf("services %+v", u)
	}
	client := l.World().Host("cn-client-1").HTTPClient()
	resp, err := client.Get(u.ProbeServices + "/api/v1/test-helpers")
	if err != nil {
		t.Fatal(err)
	}
	var helpers map[string][]struct {
		Address string `json:"address"`
		Type    string `json:"type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&helpers)
	resp.Body.Close()
	if err != nil || len(helpers["web-connectivity"]) == 0 {
		t.Fatalf("test helpers: %v %+v", err, helpers)
	}
	resp, err = client.Get("http://" + l.ControlAddr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Hello OONItarian") {
		t.Fatalf("helper health check: %d %q", resp.StatusCode, body)
	}
}
