package config

import (
	"slices"
	"strings"
	"testing"
)

// withBindoLink is the good configuration with [bindo] hosting the payment
// links.
const withBindoLink = good + `
[bindo]
gateway_url = "https://stg-payment.bindo.co"
login_url = "https://stg.bindo.co"
store_id = "8527"
username = "pos@store"
password_file = "/etc/posbridge/bindo_password"
client_id = "cid"
client_secret = "csecret"
webhook_secret_file = "/etc/posbridge/bindo_webhook_secret"
webhook_app_id = "app-8527"
link_client_ip = "203.0.113.7"

[link]
provider = "bindo"
`

func TestLinkTable(t *testing.T) {
	c, err := Parse(testFile, []byte(withBindoLink))
	if err != nil {
		t.Fatalf("Parse(withBindoLink) = %v", err)
	}
	if c.Link.Provider != LinkProviderBindo || c.Bindo.LinkClientIP != "203.0.113.7" || c.Bindo.WebhookAppID != "app-8527" {
		t.Errorf("[link] = %+v, [bindo] = %+v", c.Link, c.Bindo)
	}
	if c := validConfig(t); c.Link.Provider != LinkProviderCodePay {
		t.Errorf("default link provider = %q, want codepay", c.Link.Provider)
	}
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"unknown provider", `provider = "bindo"`, `provider = "stripe"`, []string{"link.provider"}},
		{"no client ip", `link_client_ip = "203.0.113.7"`, "", []string{"bindo.link_client_ip"}},
		{"bad client ip", `link_client_ip = "203.0.113.7"`, `link_client_ip = "203.0.113.007"`, []string{"bindo.link_client_ip"}},
		{"ip with zone", `link_client_ip = "203.0.113.7"`, `link_client_ip = "fe80::1%eth0"`, []string{"bindo.link_client_ip"}},
		{"bad app id", `webhook_app_id = "app-8527"`, "webhook_app_id = \"app\t1\"", []string{"bindo.webhook_app_id"}},
		{"codepay with bindo", `provider = "bindo"`, `provider = "codepay"`, nil},
		{"codepay without client ip", "link_client_ip = \"203.0.113.7\"\n\n[link]\nprovider = \"bindo\"", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(withBindoLink, tc.old, tc.new, 1)
			if text == withBindoLink {
				t.Fatalf("nothing replaced")
			}
			_, err := Parse(testFile, []byte(text))
			if got := problemFields(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("fields = %q, want %q (err: %v)", got, tc.want, err)
			}
		})
	}
	// link.provider = "bindo" needs [bindo].
	_, err = Parse(testFile, []byte(good+"\n[link]\nprovider = \"bindo\"\n"))
	if got := problemFields(t, err); !slices.Equal(got, []string{"link.provider"}) {
		t.Errorf("bindo without [bindo]: fields = %q (err: %v)", got, err)
	}
}
