package console

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// TestBrowserApprovalsLive keeps the approval queue on screen in headless chromium: a step
// that begins to wait appears without a reload, one decided elsewhere goes, and nothing is
// swapped away while the approver is typing a comment.
func TestBrowserApprovalsLive(t *testing.T) {
	f := newFixture(t)
	apprTok, _ := f.token(t, auth.Approver)
	base := f.srv.URL + Prefix
	ctx, run, _, _ := startBrowser(t)

	run("sign in and open the queue",
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), apprTok),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#incident-rows")),
		chromedp.Navigate(base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS("#no-approvals")))

	requester := engine.WithCaller(context.Background(), engine.Caller{Name: "token:tok-oncall"})
	request := func(id string) string {
		t.Helper()
		inc, _, err := f.eng.RequestAction(requester, "ec2.terminate", action.Target{Kind: event.KindInstance, ID: id,
			Account: devAccount, Region: "us-east-1"}, "Cryptominer", "")
		if err != nil {
			t.Fatal(err)
		}
		return inc.ID
	}
	first, second := request(buildBox), request("i-0b1c2d3e4f5a60009")
	button := func(id string) string { return `button[data-approve="` + id + `"]` }
	run("see both steps appear", chromedp.WaitVisible(chromedp.CSS(button(first))), chromedp.WaitVisible(chromedp.CSS(button(second))))

	// While a comment is being typed the rows stay as they are, though the first step is
	// decided elsewhere meanwhile.
	comment := `input[id="comment-` + second + `-0"]`
	run("start a comment", chromedp.SendKeys(chromedp.CSS(comment), "checking with the owner"))
	if err := f.eng.Deny(context.Background(), first, 0, "token:tok-other", "false positive"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // longer than one refresh
	still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+button(first)+`') !== null`))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(comment)))
	if err != nil {
		t.Fatal(err)
	}
	if !still || typed != "checking with the owner" {
		t.Errorf("while typing, the rows were swapped: first step shown %v, comment %q", still, typed)
	}

	// Once the comment is cleared and left, the decided step goes without a reload.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { var e = document.querySelector('`+comment+`');
		e.value = ""; e.blur(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	run("see the decided step go",
		chromedp.WaitNotPresent(chromedp.CSS(button(first))),
		chromedp.WaitVisible(chromedp.CSS(button(second))))
}
