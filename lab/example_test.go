package lab_test

import (
	"context"
	"fmt"
	"log"

	"github.com/splinter-lab/splinter/lab"
)

// Example starts the embedded two-lands scenario, measures two sites from a
// client in China with OONI's web_connectivity, and fetches a domestic site
// with a plain HTTP client. The README shows this code; a test checks that
// they agree.
func Example() {
	ctx := context.Background()
	l, err := lab.Start(ctx, "two-lands", lab.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for _, url := range []string{"https://www.freepress-herald.com/", "http://www.people-daily.cn/"} {
		m, err := l.Measure(ctx, "cn-client-1", url)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(url, m.TestKeys.Verdict)
	}
	h, err := l.World().LookupHost("cn-client-1") // an error, not a nil, for a typo
	if err != nil {
		log.Fatal(err)
	}
	resp, err := h.HTTPClient().Get("https://www.people-daily.cn/") // gives up after 30 s
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Proto)
	// Output:
	// https://www.freepress-herald.com/ dns
	// http://www.people-daily.cn/ accessible
	// 200 OK HTTP/2.0
}
