package profiles_test

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TestDefaultScenario: on the default scenario each censoring border blocks
// something by its own methods (the decision log names its rules and
// actions), while US and DE clients reach every site.
func TestDefaultScenario(t *testing.T) {
	t.Parallel()
	l := newLab(t, t2024, nil)
	stop := l.drive(5 * time.Millisecond)
	defer stop()
	get := func(host, url string, limit time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), limit)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := l.w.Host(host).HTTPClient().Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	cases := []struct {
		border, client, url, rule, action string
	}{
		{"CN", "cn-client-1", "http://www.open-dissent.org/", "cn-dns-injector-1", "dns-inject"},
		{"IR", "ir-client-1", "http://www.farsi-radio-free.com/", "ir-dns", "dns-inject"},
		{"RU", "ru-client-1", "https://www.russia-free-media.com/", "ru-tspu-sni", "drop"},
		{"TM", "tm-client-1", "http://www.turkmen-chronicle.org/", "tm-dns", "dns-inject"},
		{"KZ", "kz-client-1", "http://www.steppe-truth.org/", "kz-http", "blockpage"},
		{"IN/in-airtel", "in-airtel-client-1", "http://www.kashmir-monitor-online.com/", "airtel-http", "blockpage"},
		{"IN/in-jio", "in-jio-client-1", "https://www.torrent-harbor.net/", "jio-sni", "terminate"},
		{"CN/cn-henan-unicom", "", "", "henan-http", "rst"},
	}
	for _, c := range cases {
		t.Run(c.border, func(t *testing.T) {
			if c.client != "" {
				get(c.client, c.url, 2*time.Second) // blocked or not, the log decides
			} else {
				r := l.raw(t, "cn-henan-client-1")
				conn, _ := r.dial(netip.AddrPortFrom(l.site(t, "www.shop-kaufhaus.de"), 80), 0, 2*time.Second)
				conn.write(httpGet("www.shop-kaufhaus.de", "/"))
				conn.collect(300 * time.Millisecond)
			}
			ok := false
			for _, d := range l.Log().Decisions() {
				if d.Border == c.border && d.Rule == c.rule && string(d.Action) == c.action {
					ok = true
				}
			}
			if !ok {
				t.Errorf("border %s took no %s decision by rule %s", c.border, c.action, c.rule)
			}
		})
	}
	t.Run("CN-sni-on-real-client", func(t *testing.T) {
		// With a clean resolver answer (the real address), the TLS boxes act.
		h := l.w.Host("cn-client-2")
		conn, err := h.DialAddr(t.Context(), "tcp", netip.AddrPortFrom(l.site(t, "www.uyghur-voices.org"), 443))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		tlsClient(conn, h.TLSConfig("www.uyghur-voices.org")).Handshake()
		if len(l.decisions("cn-sni-mb-ra", 0))+len(l.decisions("cn-sni-mb-r", 0)) == 0 {
			t.Error("no TLS box decision")
		}
	})
	t.Run("open", func(t *testing.T) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for _, client := range []string{"us-client-1", "de-client-1"} {
			for _, s := range l.w.Plan().Sites {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					if err := get(client, "https://"+s.Domain+"/", 20*time.Second); err != nil {
						t.Errorf("%s -> %s: %v", client, s.Domain, err)
					}
				}()
			}
		}
		wg.Wait()
	})
}
