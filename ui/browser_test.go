package ui

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser smoke test drives the real page in headless Debian chromium
// against fakeAPI. It skips when chromium is absent (`make browser`
// installs it).

const (
	browserLife = 90 * time.Second // whole browser session, including start-up
	stepTimeout = 10 * time.Second
)

// chromiumPath finds the browser binary; Debian's /usr/bin/chromium is a
// shell wrapper, so the real binary is preferred.
func chromiumPath() string {
	if fi, err := os.Stat("/usr/lib/chromium/chromium"); err == nil && fi.Mode()&0o111 != 0 {
		return "/usr/lib/chromium/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// syncBuffer collects the browser's output for failure reports.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// browserPage is one headless tab plus what the page wrote to its console.
type browserPage struct {
	t       *testing.T
	ctx     context.Context
	out     *syncBuffer
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts an offline headless chromium with a fresh profile and
// TMPDIR in the test's temp dir; cleanup closes it and waits for it.
func newBrowser(t *testing.T) *browserPage {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		t.Skip("browser smoke test skipped: chromium not installed (run `make browser`)")
	}
	tmp := t.TempDir()
	out := &syncBuffer{}
	// The timeout context comes first so that it bounds the browser's
	// whole life, start-up included.
	ctx, cancel := context.WithTimeout(context.Background(), browserLife)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(filepath.Join(tmp, "profile")),
		chromedp.Env("TMPDIR="+tmp),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-proxy-server", true),
		// Resolve nothing but the loopback test server.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 1000),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(allocCtx)
	p := &browserPage{t: t, ctx: bctx, out: out}
	consoleDone := make(chan struct{})
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
		select {
		case <-consoleDone:
		case <-time.After(5 * time.Second):
			t.Error("console reader did not stop")
		}
	})
	if err := chromedp.Do(bctx); err != nil {
		close(consoleDone)
		t.Fatalf("starting chromium %s: %v\n%s", exe, err, out.String())
	}
	messages := chromedp.Console(bctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *browserPage) fail(step string, err error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	text, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.readyState + " " + (document.body ? document.body.childElementCount + " " + document.body.innerText : "no body")`))
	if err2 != nil {
		text = "(cannot read the page: " + err2.Error() + ")"
	}
	p.t.Fatalf("%s: %v\n--- page text ---\n%s\n--- console ---\n%s", step, err, text, p.consoleText())
}

func (p *browserPage) consoleText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, m := range p.console {
		fmt.Fprintf(&b, "%s: %s\n", m.Type, m)
	}
	return b.String()
}

// do runs steps that return nothing, with a per-step timeout.
func (p *browserPage) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(step, err)
	}
}

// waitJS waits until the JavaScript expression is truthy.
func (p *browserPage) waitJS(step, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		p.fail(step+" (waiting for "+expr+")", err)
	}
}

func (p *browserPage) eval(step, expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.fail(step, err)
	}
	return v
}

func (p *browserPage) click(step, css string) {
	p.t.Helper()
	p.do(step, chromedp.Click(chromedp.CSS(css)))
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return strconv.Quote(s) }

// noJunk is true when the visible page shows no rendering accident such
// as "null", "undefined" or "[object Object]".
const noJunk = `!/null|undefined|NaN|\[object Object\]/.test(document.body.innerText)`

func taskSel(id string) string { return `.task[data-task-id="` + id + `"]` }

func TestBrowserSmoke(t *testing.T) {
	p := newBrowser(t)
	const password = "correct horse battery staple"
	fake := newFakeAPI(password)
	srv := httptest.NewServer(fake.handler(Handler()))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(fake.stop) }) // runs before srv.Close: ends open streams

	p.do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("login-password")))

	// Log in: a wrong password shows the server's message; the right one
	// opens the app with the health panel filled in.
	p.do("type a wrong password", chromedp.SendKeys(chromedp.ID("login-password"), "wrong"), chromedp.Click(chromedp.ID("login-submit")))
	p.waitJS("wrong password refused", `document.getElementById('login-error').textContent === 'Login refused: wrong password'`)
	p.do("log in", chromedp.SendKeys(chromedp.ID("login-password"), password), chromedp.Click(chromedp.ID("login-submit")))
	p.waitJS("app shown", `!document.getElementById('app').hidden && document.getElementById('login').hidden`)
	p.waitJS("health shown", `document.getElementById('health-status')?.textContent === 'ok' &&
		document.getElementById('health-body').textContent.includes('test-agent') &&
		document.getElementById('health-netctl').textContent === 'active'`)
	p.waitJS("runtimes shown", `document.querySelector('#runtime-codex')?.textContent.includes('acct-123') &&
		document.querySelector('#runtime-claude_code #claude-login-start') !== null`)
	// Codex device-code login: code, link and expiry shown; once the host
	// reports the runtime active (events), the panel follows.
	p.click("start the Codex login", "#codex-login-start")
	p.waitJS("device code shown", `document.getElementById('login-code-codex')?.textContent === `+js(fakeDeviceCode)+` &&
		document.getElementById('login-url-codex').href === `+js(fakeDeviceURL)+` &&
		document.getElementById('login-codex').textContent.includes('Expires')`)
	fake.finishCodexLogin()
	p.waitJS("codex active after the login events", `document.querySelector('#runtime-codex .badge')?.textContent === 'active' &&
		document.getElementById('login-codex') === null && document.getElementById('health-body').textContent.includes('active')`)

	p.click("start the Claude login", "#claude-login-start")
	p.waitJS("Claude login link shown", `document.getElementById('login-url-claude_code')?.href === `+js(fakeClaudeURL)+` &&
		document.getElementById('login-url-claude_code').rel === 'noopener noreferrer'`)
	p.do("paste the Claude code", chromedp.SendKeys(chromedp.ID("claude-code"), "code-123#state"),
		chromedp.Click(chromedp.CSS("#runtime-claude_code form button[type=submit]")))
	p.waitJS("Claude login completing", `document.getElementById('login-claude_code')?.textContent.includes('Login status: loading')`)
	if got := p.eval("password kept nowhere", `JSON.stringify([localStorage.length, sessionStorage.length, document.cookie,
		document.getElementById('login-password').value])`); got != `[0,0,"",""]` {
		t.Fatalf("storage/cookie/field after login = %s; want nothing script-readable", got)
	}

	// A reload keeps the session (the cookie) and needs no password.
	p.do("reload", chromedp.Reload())
	p.waitJS("still logged in after reload", `!document.getElementById('app').hidden &&
		document.getElementById('health-status')?.textContent === 'ok'`)

	// Queue a task on a new thread and see it in the thread view.
	const input = "Write a haiku about <script>alert(1)</script>"
	p.click("open tasks tab", `.tabs [data-tab="tasks"]`)
	p.do("fill the composer",
		chromedp.SetValue(chromedp.ID("composer-thread"), "thread-one"),
		chromedp.SendKeys(chromedp.ID("composer-input"), input),
		chromedp.Click(chromedp.ID("composer-submit")))
	p.waitJS("task appears", `document.querySelector('`+taskSel("task-1")+` pre.input')?.textContent === `+js(input)+` &&
		document.querySelector('`+taskSel("task-1")+`').dataset.status === 'queued'`)
	p.waitJS("thread listed", `document.querySelector('#threads-body .thread-link[data-thread-id="thread-one"]') !== null`)

	// The orchestrator starts it and the agent speaks: the event arrives over
	// SSE, the card turns running, and hostile markup stays text.
	const agentMsg = `<img src=x id=pwned onerror="window.__pwned=1">hello from the agent`
	fake.setStatus("task-1", "running", "")
	fake.addEvent("task.message", "task-1", map[string]any{"message": agentMsg, "source": "agent"})
	p.waitJS("card turns running", `document.querySelector('`+taskSel("task-1")+`').dataset.status === 'running'`)
	p.waitJS("agent message in the card", `[...document.querySelectorAll('`+taskSel("task-1")+` .msgs pre')].some(e => e.textContent === `+js(agentMsg)+`)`)
	p.click("open events tab", `.tabs [data-tab="events"]`)
	p.waitJS("agent message in the live feed", `[...document.querySelectorAll('#events-body .event[data-type="task.message"] pre')].some(e => e.textContent === `+js(agentMsg)+`)`)
	p.waitJS("feed is live over SSE", `document.getElementById('events-state').textContent === 'live'`)
	if got := p.eval("no markup injected", `String(document.getElementById('pwned') === null && !window.__pwned && document.querySelectorAll('img').length === 0)`); got != "true" {
		t.Fatal("agent text became markup")
	}

	// Steer the running task, then edit a queued one, then kill.
	p.click("back to tasks", `.tabs [data-tab="tasks"]`)
	p.do("steer", chromedp.SendKeys(chromedp.CSS(taskSel("task-1")+" .steer-input"), "focus on tests"),
		chromedp.Click(chromedp.CSS(taskSel("task-1")+" button.steer")))
	p.waitJS("steer accepted", `document.querySelector('`+taskSel("task-1")+` .ok').textContent === 'Steer accepted.'`)
	p.do("queue a second task", chromedp.SendKeys(chromedp.ID("composer-input"), "second task"), chromedp.Click(chromedp.ID("composer-submit")))
	p.waitJS("second task queued", `document.querySelector('`+taskSel("task-2")+`')?.dataset.status === 'queued'`)
	p.click("edit", taskSel("task-2")+" button.edit")
	p.do("change the input", chromedp.SetValue(chromedp.CSS(taskSel("task-2")+" .edit-input"), "second task, edited"),
		chromedp.Click(chromedp.CSS(taskSel("task-2")+" button.save-edit")))
	p.waitJS("no placeholder text leaks into the tasks view", noJunk)
	p.waitJS("edit saved", `document.querySelector('`+taskSel("task-2")+` pre.input').textContent === 'second task, edited'`)
	p.click("kill", taskSel("task-1")+" button.kill")
	p.waitJS("kill asks first", `document.getElementById('confirm-dialog').open`)
	p.click("confirm kill", "#confirm-ok")
	p.waitJS("task cancelled", `document.querySelector('`+taskSel("task-1")+`').dataset.status === 'cancelled'`)

	// Network: invalid JSON is caught before sending; a policy the host
	// rejects shows its message verbatim; a valid one saves.
	p.click("open network tab", `.tabs [data-tab="network"]`)
	p.waitJS("policy loaded", `document.getElementById('policy-editor').value.includes('api.github.com') &&
		document.getElementById('policy-domains').textContent.includes('^/repos/.*$') && document.getElementById('policy-openai').checked`)
	p.do("save broken JSON", chromedp.SetValue(chromedp.ID("policy-editor"), `{"allowed_network_access": {`), chromedp.Click(chromedp.ID("policy-save")))
	p.waitJS("JSON error shown", `document.getElementById('policy-error').textContent.startsWith('Not valid JSON:')`)
	const rejected = `{"allowed_network_access": {"10.0.0.1": {"allow_http_methods": ["GET"]}}}`
	p.do("save a rejected policy", chromedp.SetValue(chromedp.ID("policy-editor"), rejected), chromedp.Click(chromedp.ID("policy-save")))
	p.waitJS("host's message verbatim", `document.getElementById('policy-error').textContent === `+js(`allowed_network_access["10.0.0.1"]: IP literals are not allowed; use a DNS name`))
	const valid = `{"allowed_network_access": {"example.com": {"allow_http_methods": ["GET"]}}}`
	p.do("save a valid policy", chromedp.SetValue(chromedp.ID("policy-editor"), valid), chromedp.Click(chromedp.ID("policy-save")))
	p.waitJS("policy saved", `document.getElementById('policy-ok').textContent === 'Policy saved.' && document.getElementById('policy-error').hidden &&
		document.getElementById('policy-domains').textContent.includes('example.com') && !document.getElementById('policy-openai').checked`)

	// The decision log falls back to polling (the fake has no network
	// stream) and shows the denial as text.
	p.waitJS("denial in the network log", `document.querySelector('#netlog-body tr[data-seq="1"]')?.textContent.includes('https://evil.example:443/<b>upload</b>') &&
		document.getElementById('netlog-state').textContent === 'polling'`)
	p.waitJS("no placeholder text leaks into the network view", noJunk)
	p.do("check a URL", chromedp.SendKeys(chromedp.ID("check-url"), "https://evil.example/x"), chromedp.Click(chromedp.ID("check-submit")))
	p.waitJS("check answered", `document.getElementById('check-decision')?.textContent === 'denied'`)

	// Reboot asks first; then log out.
	p.click("reboot", "#reboot-btn")
	p.waitJS("reboot asks first", `document.getElementById('confirm-dialog').open`)
	p.click("confirm reboot", "#confirm-ok")
	p.waitJS("reboot requested", `document.getElementById('banner').textContent.startsWith('Reboot requested')`)
	p.click("log out", "#logout-btn")
	p.waitJS("logout ended the session", `!document.getElementById('login').hidden`)
	fake.snapshot(func() {
		if len(fake.sessions) != 0 {
			t.Error("logout did not end the session on the host")
		}
	})
	p.waitJS("login shown again", `!document.getElementById('login').hidden && document.getElementById('app').hidden &&
		document.getElementById('events-body').childElementCount === 0`)

	// A session that ends on the host sends the page back to the login.
	p.do("log in again", chromedp.SendKeys(chromedp.ID("login-password"), password), chromedp.Click(chromedp.ID("login-submit")))
	p.waitJS("app shown again", `!document.getElementById('app').hidden`)
	fake.snapshot(func() { clear(fake.sessions) })
	// Any call notices; the health button makes one now (the network-log
	// poll would within 2.5 s).
	p.eval("refresh health", `document.getElementById('health-refresh').click(), ''`)
	p.waitJS("expired session asks to log in", `!document.getElementById('login').hidden &&
		document.getElementById('login-error').textContent === 'Your session ended. Log in again.'`)

	fake.snapshot(func() {
		if len(fake.keyErrors) > 0 {
			t.Errorf("Idempotency-Key problems: %q", fake.keyErrors)
		}
		// wrong login, login, Codex login, 2 Claude login calls, 2 creates,
		// steer, edit, kill, 2 policy PUTs, check, reboot, logout, login
		if len(fake.keys) != 16 {
			t.Errorf("%d mutating requests with keys, want 16: %q", len(fake.keys), fake.keys)
		}
		if !slices.Equal(fake.codes, []string{"code-123#state"}) {
			t.Errorf("Claude codes = %q", fake.codes)
		}
		if !slices.Equal(fake.policyPUT, []string{rejected, valid}) {
			t.Errorf("policy PUT bodies = %q; want exactly what was typed (and no broken JSON)", fake.policyPUT)
		}
		if !slices.Equal(fake.steers, []string{"focus on tests"}) || !slices.Equal(fake.kills, []string{"task-1"}) || fake.reboots != 1 {
			t.Errorf("steers %q kills %q reboots %d", fake.steers, fake.kills, fake.reboots)
		}
		if got := fake.tasks["task-1"].Input; got != input {
			t.Errorf("task input = %q, want %q", got, input)
		}
		if fake.streams == 0 {
			t.Error("the UI never opened the SSE stream")
		}
	})

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("page console: %s: %s", m.Type, m)
		}
	}
}
