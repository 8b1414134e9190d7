// Package headless renders an HTML file in a headless Chromium (Debian's
// chromium package, or Chrome) and returns what a script computed from the
// rendered page, so that a test can check that what a page is meant to draw
// is drawn: report.html's charts. It owns nothing else; only tests use it.
package headless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Browser returns the path of a Chromium-like browser on this machine, or
// "" if there is none.
func Browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

var resultRE = regexp.MustCompile(`(?s)<pre id="headless-result">(.*?)</pre>`)

// Eval renders the HTML file in browser with script run once the page has
// loaded, and returns the text the script returned (script is the body of
// a function; its return value is turned into a string). The page is
// copied beside file with the script added, so that the page's own relative
// references still resolve; nothing is fetched from the network (the
// browser runs with networking to localhost only through a proxy that does
// not exist).
func Eval(ctx context.Context, browser, file, script string) (string, error) {
	page, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("headless: %w", err)
	}
	probe := `<pre id="headless-result"></pre><script>window.addEventListener("load", function () {
var out; try { out = String((function () {` + script + `})()); } catch (e) { out = "error: " + e; }
document.getElementById("headless-result").textContent = out; });</script>`
	i := bytes.LastIndex(page, []byte("</body>"))
	if i < 0 {
		i = len(page)
	}
	withProbe := append(append(append([]byte{}, page[:i]...), probe...), page[i:]...)
	f, err := os.CreateTemp(filepath.Dir(file), ".headless-*.html")
	if err != nil {
		return "", fmt.Errorf("headless: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(withProbe); err != nil {
		f.Close()
		return "", fmt.Errorf("headless: %w", err)
	}
	f.Close()
	abs, err := filepath.Abs(f.Name())
	if err != nil {
		return "", fmt.Errorf("headless: %w", err)
	}
	profile, err := os.MkdirTemp("", "headless-profile-")
	if err != nil {
		return "", fmt.Errorf("headless: %w", err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+profile, "--proxy-server=127.0.0.1:9", "--virtual-time-budget=10000",
		"--window-size=1400,1000", "--dump-dom", "file://"+abs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("headless: %s: %w (%s)", filepath.Base(browser), err, lastLine(stderr.String()))
	}
	m := resultRE.FindSubmatch(stdout.Bytes())
	if m == nil {
		return "", errors.New("headless: the page's script left no result (did the page load?)")
	}
	return html.UnescapeString(string(m[1])), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
