package console

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// chromiumPath is Debian's chromium, which CI installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir receives the pages' screenshots, for the documentation, when the tests run
// with -screenshots; otherwise they go to a temporary directory, so that a test run leaves
// the tree as it found it.
const screenshotDir = "../../docs/screenshots"

var writeScreenshots = flag.Bool("screenshots", false, "write the browser tests' screenshots into docs/screenshots")

// shotDir is where this test's screenshots go.
func shotDir(t *testing.T) string {
	if *writeScreenshots {
		return screenshotDir
	}
	return t.TempDir()
}

// TestBrowser drives the console in headless chromium as responders use it: a responder
// signs in, isolates an instance from the form and asks for a destructive action, signs
// out; an approver signs in, approves the waiting step and releases the isolated instance
// through the confirmation page. The incident list's refresh script is checked by
// opening an incident while the list is on screen. The main pages are photographed into
// docs/screenshots.
func TestBrowser(t *testing.T) {
	f := newFixture(t)
	respTok, _ := f.token(t, auth.Responder)
	apprTok, _ := f.token(t, auth.Approver)
	base := f.srv.URL + Prefix

	ctx, run, text, shot := startBrowser(t)
	signIn := func(tok string) {
		t.Helper()
		run("sign in",
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), tok),
			chromedp.Click(chromedp.CSS("#sign-in")),
			chromedp.WaitVisible(chromedp.CSS("#incident-rows")))
	}
	incidentOf := func() string {
		t.Helper()
		location, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(location, Prefix+"/incidents/")
		if i < 0 {
			t.Fatalf("not on an incident page: %s", location)
		}
		return location[i+len(Prefix+"/incidents/"):]
	}

	// The responder isolates the public web server from the form.
	signIn(respTok)
	run("fill the isolation form",
		chromedp.Navigate(base+"/isolate"),
		chromedp.WaitVisible(chromedp.CSS("#instance")),
		chromedp.SetValue(chromedp.CSS("#account"), prodAccount),
		chromedp.SetValue(chromedp.CSS("#region"), "us-east-1"),
		chromedp.SendKeys(chromedp.CSS("#instance"), webProd),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Outbound traffic to a known command-and-control host"),
		chromedp.SendKeys(chromedp.CSS("#ticket"), "INC-4711"),
		shot("isolate"),
		chromedp.Click(chromedp.CSS("#submit-isolate")),
		chromedp.WaitVisible(chromedp.CSS("#incident-state")))
	isolated := incidentOf()
	f.waitFor(t, isolated, store.StateContained)
	run("see it contained",
		chromedp.Navigate(base+"/incidents/"+isolated),
		chromedp.WaitVisible(chromedp.CSS("#incident-state")),
		shot("incident"))
	state := text("#incident-state")
	if state != "contained" {
		t.Errorf("incident %s shows %q, want contained", isolated, state)
	}

	// The responder asks for a destructive action, which waits for someone else.
	run("request a termination",
		chromedp.Navigate(base+"/isolate"),
		chromedp.WaitVisible(chromedp.CSS("#instance")),
		chromedp.SetValue(chromedp.CSS("#action"), "ec2.terminate"),
		chromedp.SetValue(chromedp.CSS("#account"), devAccount),
		chromedp.SendKeys(chromedp.CSS("#instance"), buildBox),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Cryptominer on the build box"),
		chromedp.Click(chromedp.CSS("#submit-isolate")),
		chromedp.WaitVisible(chromedp.CSS("#incident-state")))
	terminated := incidentOf()
	f.waitFor(t, terminated, store.StateAwaitingApproval)
	run("sign out",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#token")))

	// The approver approves it from the queue.
	signIn(apprTok)
	run("approve",
		chromedp.Navigate(base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-approve="`+terminated+`"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="comment"]`), "Confirmed with the build team"),
		shot("approvals"),
		chromedp.Click(chromedp.CSS(`button[data-approve="`+terminated+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	flash := text(".flash.ok")
	if !strings.Contains(flash, "Approved step 0") {
		t.Errorf("after approving: %q", flash)
	}
	f.waitFor(t, terminated, store.StateContained)

	// The approver releases the isolated instance, through the confirmation page.
	run("release",
		chromedp.Navigate(base+"/incidents/"+isolated),
		chromedp.Click(chromedp.CSS("#release")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-release")),
		chromedp.Click(chromedp.CSS("#confirm-release")),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	flash, state = text(".flash.ok"), text("#incident-state")
	if !strings.Contains(flash, "released") || state != "released" {
		t.Errorf("after releasing: %q, state %q", flash, state)
	}

	// The list picks up an incident opened while it is on screen, without a reload.
	run("open the list", chromedp.Navigate(base+"/incidents"), chromedp.WaitVisible(chromedp.CSS("#incident-rows")))
	ctxReq := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-oncall"})
	late, _, err := f.eng.RequestAction(ctxReq, "ec2.isolate", action.Target{Kind: event.KindInstance, ID: "i-0a1b2c3d4e5f60004",
		Account: prodAccount, Region: "us-east-1"}, "Port probe from a known scanner", "INC-4712")
	if err != nil {
		t.Fatal(err)
	}
	run("see the new incident appear",
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+Prefix+`/incidents/`+late.ID+`"]`)),
		shot("incidents"))

	// A playbook with its runbook, and the exceptions in force.
	run("read a playbook",
		chromedp.Navigate(base+"/playbooks"),
		chromedp.WaitVisible(chromedp.CSS("#playbooks")),
		chromedp.Click(chromedp.CSS(`#playbooks a[href="`+Prefix+`/playbooks/ec2-compromise-prod"]`)),
		chromedp.WaitVisible(chromedp.CSS("#runbook")),
		shot("playbook"))
	if rb := text("#runbook"); !strings.Contains(rb, "aws ec2") {
		t.Errorf("the playbook page's runbook holds no AWS commands: %.200q", rb)
	}
	x, err := f.eng.CreateException(ctxReq, engine.ExceptionRequest{Resource: "i-0a1b2c3d4e5f60004", Account: "",
		Playbooks: []string{"*"}, Reason: "Forensic imaging under way (INC-4712)", Expires: time.Now().Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	run("see the exceptions",
		chromedp.Navigate(base+"/exceptions"),
		chromedp.WaitVisible(chromedp.CSS("#show-all")),
		shot("exceptions"))
	if list := text("main"); !strings.Contains(list, x.ID) {
		t.Errorf("the exceptions page does not list %s", x.ID)
	}
}

// tallPages are photographed as far as the window shows rather than whole: a playbook's
// runbook runs to several screens, which the documentation does not need.
var tallPages = map[string]bool{"playbook": true}

// startBrowser starts headless chromium for one test, as the machine's own package
// installs it, and returns the test's browser context with helpers that run actions
// (failing the test with the page it was on), read an element's text, and photograph a
// page. The browser stops when the test ends.
func startBrowser(t *testing.T) (ctx context.Context, run func(what string, actions ...chromedp.Action[chromedp.Void]),
	text func(sel string) string, shot func(name string) chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing, so the console's browser test cannot run: install it with apt-get install chromium (CI does)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// The browser starts on the first run, with a context of no deadline (a deadline there
	// would bound the browser's life); the steps after it are bounded.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)

	run = func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	text = func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	dir := shotDir(t)
	shot = func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			capture := chromedp.FullScreenshot(100)
			if tallPages[name] {
				capture = chromedp.CaptureScreenshot()
			}
			png, err := capture(ctx, tg)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	return ctx, run, text, shot
}
