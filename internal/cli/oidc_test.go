package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/auth/oidctest"
	"github.com/firebreak-sec/firebreak/internal/config"
)

// TestOIDCAudienceFromConfig checks which aud the API's bearer tokens must carry: the
// client id when oidc.audience is not given (ID tokens), and oidc.audience when it is (an
// API's access tokens), the other then refused.
func TestOIDCAudienceFromConfig(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	token := func(aud string) string {
		now := time.Now()
		return iss.Sign(t, map[string]any{"iss": iss.URL(), "aud": aud, "sub": "00u1ana", "email": "ana@example.com",
			"email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "groups": []string{"responders"}})
	}
	for _, tt := range []struct {
		name, audience, accepted, refused string
	}{
		{"default: the client id", "", "firebreak-console", "api://firebreak"},
		{"an API's audience", "api://firebreak", "api://firebreak", "firebreak-console"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config.OIDC{Issuer: iss.URL(), ClientID: "firebreak-console", Audience: tt.audience, GroupsClaim: "groups",
				Grants: []config.OIDCGrant{{Group: "responders", Role: "responder"}}}
			if c.Audience == "" {
				// What loading the file does when the key is absent (TestOIDCDefaults).
				c.Audience = c.ClientID
			}
			v, _, err := oidcFromConfig(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := v.Verify(context.Background(), token(tt.accepted)); err != nil || p.Role != auth.Responder {
				t.Errorf("aud %s: %v, role %q; want accepted as responder", tt.accepted, err, p.Role)
			}
			if _, err := v.Verify(context.Background(), token(tt.refused)); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("aud %s: %v; want refused", tt.refused, err)
			}
		})
	}
}
