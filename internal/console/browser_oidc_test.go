package console

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestBrowserOIDC drives the console in headless chromium with sign-in through an OIDC
// provider: a responder signs in at the test issuer, isolates an instance from the form,
// asks for a termination that needs someone else's approval and signs out; an approver
// signs in the same way, approves the waiting step and releases the isolated instance
// through the confirmation page. The login page is photographed into docs/screenshots.
func TestBrowserOIDC(t *testing.T) {
	f, _ := newOIDCFixture(t)
	base := f.srv.URL + Prefix

	ctx, run, text, shot := startBrowser(t)
	// signIn goes from the console's login page to the issuer, signs in as user there and
	// follows the provider back to the incident list.
	signIn := func(user string, photo bool) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(base + "/login"),
			chromedp.WaitVisible(chromedp.CSS("#sign-in-oidc")),
		}
		if photo {
			actions = append(actions, shot("login"))
		}
		actions = append(actions,
			chromedp.Click(chromedp.CSS("#sign-in-oidc")),
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), user),
			chromedp.Click(chromedp.CSS("#approve")),
			chromedp.WaitVisible(chromedp.CSS("#incident-rows")))
		run("sign in as "+user, actions...)
		if who := text(".who"); !strings.Contains(who, user+"@example.com") {
			t.Fatalf("signed in as %s, the header shows %q", user, who)
		}
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

	// The responder signs in at the provider and isolates the public web server.
	signIn("ana", true)
	run("fill the isolation form",
		chromedp.Navigate(base+"/isolate"),
		chromedp.WaitVisible(chromedp.CSS("#instance")),
		chromedp.SetValue(chromedp.CSS("#account"), prodAccount),
		chromedp.SetValue(chromedp.CSS("#region"), "us-east-1"),
		chromedp.SendKeys(chromedp.CSS("#instance"), webProd),
		chromedp.SendKeys(chromedp.CSS("#reason"), "Outbound traffic to a known command-and-control host"),
		chromedp.Click(chromedp.CSS("#submit-isolate")),
		chromedp.WaitVisible(chromedp.CSS("#incident-state")))
	isolated := incidentOf()
	f.waitFor(t, isolated, store.StateContained)

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
		chromedp.WaitVisible(chromedp.CSS("#sign-in-oidc")))

	// The approver signs in at the provider and approves it from the queue.
	signIn("ben", false)
	run("approve",
		chromedp.Navigate(base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-approve="`+terminated+`"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="comment"]`), "Confirmed with the build team"),
		chromedp.Click(chromedp.CSS(`button[data-approve="`+terminated+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if flash := text(".flash.ok"); !strings.Contains(flash, "Approved step 0") {
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
	flash, state := text(".flash.ok"), text("#incident-state")
	if !strings.Contains(flash, "released") || state != "released" {
		t.Errorf("after releasing: %q, state %q", flash, state)
	}
}
