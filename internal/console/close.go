package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/input"
)

// closeForm is the confirmation page: what closing leaves in place and what it ends,
// before anything is closed. For an incident that cannot be closed yet it says why and
// what to do first.
func (c *Console) closeForm(w http.ResponseWriter, r *http.Request, v *call) {
	inc, ok := c.load(w, r, v, auth.Release)
	if !ok {
		return
	}
	data := map[string]any{"Incident": inc, "Releasable": releasable(inc)}
	if err := engine.CheckClose(inc); err != nil {
		data["Refused"] = err.Error()
	}
	var kept []string
	for _, st := range inc.Steps {
		if st.Status == "done" || st.Status == "already-done" {
			if st.ReleaseStatus == "" {
				kept = append(kept, fmt.Sprintf("%d. %s", st.Index, st.Action))
			}
		}
	}
	data["Kept"] = kept
	c.render(w, r, v, http.StatusOK, "close", "Close "+inc.ID, data)
}

// closeIncident closes an incident, once confirmed on closeForm, with the optional
// comment for the audit.
func (c *Console) closeIncident(w http.ResponseWriter, r *http.Request, v *call) {
	inc, ok := c.load(w, r, v, auth.Release)
	if !ok {
		return
	}
	back := Prefix + "/incidents/" + inc.ID
	if r.PostFormValue("confirm") != "close" {
		http.Redirect(w, r, back+"/close", http.StatusSeeOther)
		return
	}
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if len(comment) > maxComment || !input.Printable(comment) {
		c.fail(w, r, v, http.StatusBadRequest, fmt.Sprintf("The comment must be at most %d printable characters. Go back and shorten it.", maxComment), back+"/close")
		return
	}
	_, err := c.opts.Engine.Close(v.ctx(r), inc.ID, v.principal.Name, comment)
	if c.changeFailed(w, r, v, inc.ID, err) {
		return
	}
	c.redirect(w, r, v, back, "Incident "+inc.ID+" is closed. A later finding about "+inc.Target.ID+" opens a new incident.", "ok")
}
