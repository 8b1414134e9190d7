// Package browsertest drives a headless Chromium for tests of the pages
// people look at (the explorer, the static report): it opens pages at a
// given viewport, reads them, measures their layout and keeps screenshots
// as test artifacts.
//
// It runs Debian's chromium (apt-get install chromium) through the
// DevTools protocol with github.com/chromedp/chromedp; a test calling Start
// skips, saying why, when no Chromium is installed. $SPLINTER_CHROMIUM
// names another binary. Screenshots go to $SPLINTER_ARTIFACTS/<test name>/
// when that is set (CI keeps them), else to the test's temporary folder.
//
// It owns no page logic: tests say what a page must show.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns the Chromium binary to run, or an error saying why there
// is none.
func Find() (string, error) {
	if p := os.Getenv("SPLINTER_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("browsertest: no chromium on PATH (apt-get install chromium, or set SPLINTER_CHROMIUM)")
}

// Browser is one headless Chromium, shared by the pages a test opens.
type Browser struct {
	ctx context.Context
}

// Start starts a headless Chromium for t, stopped when t ends; it skips t
// when there is no Chromium.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := Find()
	if err != nil {
		t.Skip(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-gpu", true),
		// Pages are served from loopback; nothing else may be reached.
		// chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := first(ctx, cancel); err != nil {
		t.Fatalf("browsertest: starting %s: %v", path, err)
	}
	return &Browser{ctx: ctx}
}

// first makes the first run on a chromedp context, which starts its
// browser or opens its tab. That run must not have a timeout (the browser
// or tab would live only as long as it), so a watchdog bounds it instead.
func first(ctx context.Context, cancel context.CancelFunc) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(timeout):
		cancel()
		return fmt.Errorf("no answer in %v", timeout)
	}
}

// Page is one tab with a fixed viewport.
type Page struct {
	t     testing.TB
	ctx   context.Context
	Width int
}

// Page opens a tab whose viewport is width × height CSS pixels; a width
// under 600 emulates a phone (mobile viewport, touch).
func (b *Browser) Page(t testing.TB, width, height int) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := first(ctx, cancel); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	p := &Page{t: t, ctx: ctx, Width: width}
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	p.do(chromedp.EmulateViewport(int64(width), int64(height), opts...))
	return p
}

// timeout bounds one step (a loaded machine renders slowly).
const timeout = 60 * time.Second

func (p *Page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browsertest: %v", err)
	}
}

// Go loads url and returns the HTTP status of the document.
func (p *Page) Go(url string) int {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
	return p.status()
}

// status is the HTTP status of the document loaded.
func (p *Page) status() int {
	p.t.Helper()
	return Eval[int](p, `performance.getEntriesByType('navigation')[0].responseStatus`)
}

// Click clicks the first element matching a CSS selector, waits for the
// page it leads to and returns its HTTP status.
func (p *Page) Click(sel string) int {
	p.t.Helper()
	before := Eval[string](p, `location.href`)
	p.do(chromedp.Click(chromedp.CSS(sel)))
	p.WaitFor(fmt.Sprintf(`location.href !== %q && document.readyState === 'complete'`, before))
	return p.status()
}

// WaitFor waits until a JavaScript expression is true (evaluating it
// again across the navigations it may wait for).
func (p *Page) WaitFor(expr string) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("browsertest: waiting for %s: not true in %v (last error: %v)", expr, timeout, err)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("browsertest: eval %s: %v", expr, err)
	}
	return v
}

// Text is the rendered text of the elements matching a CSS selector,
// joined by newlines ("" when none matches).
func (p *Page) Text(sel string) string {
	p.t.Helper()
	return Eval[string](p, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.innerText).join("\n")`, sel))
}

// Count is how many elements match a CSS selector.
func (p *Page) Count(sel string) int {
	p.t.Helper()
	return Eval[int](p, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// Overflow is how far the document is wider than the viewport, in CSS
// pixels (0 when nothing sticks out sideways), with the widest elements
// that stick out, for the failure message.
func (p *Page) Overflow() (int, string) {
	p.t.Helper()
	type result struct {
		Over    int      `json:"over"`
		Culprit []string `json:"culprit"`
	}
	r := Eval[result](p, `(() => {
		const vw = document.documentElement.clientWidth;
		const over = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - vw;
		const culprit = [];
		if (over > 0) {
			for (const e of document.querySelectorAll('body *')) {
				const r = e.getBoundingClientRect();
				if (r.right > vw + 1 && !e.closest('.scroll')) {
					culprit.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' right=' + Math.round(r.right));
					if (culprit.length >= 5) break;
				}
			}
		}
		return {over: Math.max(0, over), culprit};
	})()`)
	return r.Over, strings.Join(r.Culprit, "; ")
}

// Screenshot saves a full-page PNG as a test artifact and returns its
// path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	return p.shot(name, chromedp.FullScreenshot(100))
}

// ViewportScreenshot saves a PNG of what the viewport shows.
func (p *Page) ViewportScreenshot(name string) string {
	p.t.Helper()
	return p.shot(name+"-top", chromedp.CaptureScreenshot())
}

func (p *Page) shot(name string, a chromedp.Action[[]byte]) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("browsertest: screenshot: %v", err)
	}
	path := filepath.Join(Artifacts(p.t), fmt.Sprintf("%s-%dpx.png", name, p.Width))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("browsertest: %v", err)
	}
	return path
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Artifacts is the folder a test's artifacts go to:
// $SPLINTER_ARTIFACTS/<test name> when set, else the test's temporary
// folder.
func Artifacts(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SPLINTER_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
