package decide

import (
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// WorldInventory is the Inventory of a world file's organisation: what replay, run and
// serve --dev decide against.
func WorldInventory(w *world.World) Inventory { return worldInventory{w} }

type worldInventory struct{ w *world.World }

func (wi worldInventory) ResourceTags(account, region string, kind event.Kind, id string) (map[string]string, bool) {
	return wi.w.ResourceTags(account, region, kind, id)
}

func (wi worldInventory) Account(id string) (AccountInfo, bool) {
	a, ok := wi.w.Account(id)
	if !ok {
		return AccountInfo{}, false
	}
	return AccountInfo{ID: a.ID, Name: a.Name, Tags: a.Tags}, true
}
