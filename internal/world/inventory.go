package world

import "github.com/firebreak-sec/firebreak/internal/event"

// AccountInfo is what the decision engine knows about an account: conditions can refer to
// its name and tags.
type AccountInfo struct {
	ID   string
	Name string
	Tags map[string]string
}

// Account returns the account with the given id.
func (w *World) Account(id string) (AccountInfo, bool) {
	a := w.account(id)
	if a == nil {
		return AccountInfo{}, false
	}
	return AccountInfo{ID: a.ID, Name: a.Name, Tags: copyTags(a.Tags)}, true
}

func (w *World) account(id string) *Account {
	for _, a := range w.Accounts {
		if a != nil && a.ID == id {
			return a
		}
	}
	return nil
}

// ResourceTags returns the tags of one resource, found by the id its kind is acted on by
// (CONTRACTS §1). IAM users and roles are global and S3 bucket names unique across
// regions, so for those the region is not needed; the result is a copy, never nil.
func (w *World) ResourceTags(account, region string, kind event.Kind, id string) (map[string]string, bool) {
	a := w.account(account)
	if a == nil {
		return nil, false
	}
	switch kind {
	case event.KindIAMUser:
		if a.IAM != nil {
			for _, u := range a.IAM.Users {
				if u != nil && u.Name == id {
					return copyTags(u.Tags), true
				}
			}
		}
		return nil, false
	case event.KindIAMRole:
		if a.IAM != nil {
			for _, r := range a.IAM.Roles {
				if r != nil && r.Name == id {
					return copyTags(r.Tags), true
				}
			}
		}
		return nil, false
	case event.KindS3Bucket:
		for _, rn := range a.RegionNames() {
			if r := a.Regions[rn]; r != nil {
				for _, b := range r.Buckets {
					if b != nil && b.Name == id {
						return copyTags(b.Tags), true
					}
				}
			}
		}
		return nil, false
	case event.KindAccount:
		if id == a.ID {
			return copyTags(a.Tags), true
		}
		return nil, false
	}
	r := a.Regions[region]
	if r == nil {
		return nil, false
	}
	switch kind {
	case event.KindInstance:
		for _, in := range r.Instances {
			if in != nil && in.ID == id {
				return copyTags(in.Tags), true
			}
		}
	case event.KindSecurityGroup:
		for _, g := range r.SecurityGroups {
			if g != nil && g.ID == id {
				return copyTags(g.Tags), true
			}
		}
	case event.KindTrail:
		for _, t := range r.Trails {
			if t != nil && t.Name == id {
				// Trails carry no tags in the world file; found, untagged.
				return map[string]string{}, true
			}
		}
	}
	return nil, false
}

func copyTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
