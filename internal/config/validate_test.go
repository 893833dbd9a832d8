package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// validatorCase is one table-driven case of a table validator: mutate a
// valid configuration, then want exactly these fields named, in order.
type validatorCase struct {
	name   string
	mutate func(c *Config)
	want   []string
}

const testFile = "/etc/posbridge/config.toml"

// validConfig is the parsed good configuration (defaults applied).
func validConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Parse(testFile, []byte(good))
	if err != nil {
		t.Fatalf("Parse(good) = %v", err)
	}
	return c
}

// problemFields returns the Field of every problem in err.
func problemFields(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, p := range Problems(err) {
		var ce *Error
		if !errors.As(p, &ce) {
			t.Fatalf("problem %v (%T) is not a *config.Error", p, p)
		}
		if ce.File != testFile || !errors.Is(p, ErrInvalid) {
			t.Errorf("problem %v: file %q, want %q, wrapping ErrInvalid", p, ce.File, testFile)
		}
		out = append(out, ce.Field)
	}
	return out
}

func runValidatorCases(t *testing.T, validator func(*Config) error, cases []validatorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			tc.mutate(c)
			got := problemFields(t, validator(c))
			if !slices.Equal(got, tc.want) {
				t.Errorf("fields = %q, want %q (err: %v)", got, tc.want, validator(c))
			}
		})
	}
}

func TestValidateAgent(t *testing.T) {
	runValidatorCases(t, (*Config).validateAgent, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"listen without port", func(c *Config) { c.Agent.Listen = "127.0.0.1" }, []string{"agent.listen"}},
		{"remote listen", func(c *Config) { c.Agent.Listen = "0.0.0.0:8765" }, []string{"agent.listen"}},
		{"remote listen allowed", func(c *Config) { c.Agent.Listen, c.Agent.AllowRemote = "0.0.0.0:8765", true }, nil},
		{"relative data dir", func(c *Config) { c.Agent.DataDir = "data" }, []string{"agent.data_dir"}},
		{"no token file", func(c *Config) { c.Agent.TokenFile = "" }, []string{"agent.token_file"}},
		{"bad origins", func(c *Config) { c.Agent.AllowedOrigins = []string{"http://ok:1", "localhost:3000/x", "ftp://x"} },
			[]string{"agent.allowed_origins[1]", "agent.allowed_origins[2]"}},
		{"late-check window a week", func(c *Config) { c.Agent.LateCheckWindow.Duration = 7 * 24 * time.Hour }, nil},
		{"late-check window too short", func(c *Config) { c.Agent.LateCheckWindow.Duration = 30 * time.Minute }, []string{"agent.late_check_window"}},
		{"late-check window too long", func(c *Config) { c.Agent.LateCheckWindow.Duration = 31 * 24 * time.Hour }, []string{"agent.late_check_window"}},
		{"all at once", func(c *Config) { c.Agent = Agent{Listen: "x", DataDir: "d"} },
			[]string{"agent.listen", "agent.data_dir", "agent.token_file", "agent.late_check_window"}},
	})
}

func TestValidateCodePay(t *testing.T) {
	runValidatorCases(t, (*Config).validateCodePay, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"no gateway", func(c *Config) { c.CodePay.GatewayURL = "" }, []string{"codepay.gateway_url"}},
		{"http gateway", func(c *Config) { c.CodePay.GatewayURL = "http://codepay-open.codepay.me" }, []string{"codepay.gateway_url"}},
		{"http gateway allowed", func(c *Config) {
			c.CodePay.GatewayURL, c.CodePay.AllowInsecureHTTP = "http://codepay-open.codepay.me", true
		}, nil},
		{"http loopback", func(c *Config) { c.CodePay.GatewayURL = "http://127.0.0.1:9999" }, nil},
		{"ftp gateway", func(c *Config) { c.CodePay.GatewayURL = "ftp://codepay" }, []string{"codepay.gateway_url"}},
		{"ids", func(c *Config) {
			c.CodePay.AppID, c.CodePay.MerchantNo, c.CodePay.StoreNo = "", strings.Repeat("1", 33), strings.Repeat("2", 33)
		}, []string{"codepay.app_id", "codepay.merchant_no", "codepay.store_no"}},
		{"keys", func(c *Config) { c.CodePay.PrivateKeyFile, c.CodePay.GatewayPublicKeyFile = "", "" },
			[]string{"codepay.private_key_file", "codepay.gateway_public_key_file"}},
		{"durations", func(c *Config) {
			c.CodePay.OrderExpires.Duration = 10500 * time.Millisecond
			c.CodePay.PollInterval.Duration = time.Hour
			c.CodePay.QueueTimeout.Duration = 5 * time.Second
			c.CodePay.CreateSettle.Duration = 5 * time.Minute
		}, []string{"codepay.order_expires", "codepay.poll_interval", "codepay.queue_timeout", "codepay.create_settle"}},
		{"not-found codes", func(c *Config) { c.CodePay.OrderNotFoundCodes = []string{"40005", "", " 1"} },
			[]string{"codepay.order_not_found_codes[1]", "codepay.order_not_found_codes[2]"}},
		{"notify url with query", func(c *Config) { c.CodePay.NotifyURL = "https://x.example/hooks/codepay?a=1" }, []string{"codepay.notify_url"}},
		{"notify url", func(c *Config) { c.CodePay.NotifyURL = "https://x.example/hooks/codepay" }, nil},
	})
}

func TestValidateLog(t *testing.T) {
	runValidatorCases(t, (*Config).validateLog, []validatorCase{
		{"valid", func(c *Config) { c.Log.Levels = map[string]string{"ecr": "DEBUG", "agent": "warn"} }, nil},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, []string{"log.level"}},
		{"bad levels, sorted", func(c *Config) { c.Log.Levels = map[string]string{"zvt": "x", "agent": "y", "ecr": "info"} },
			[]string{"log.levels.agent", "log.levels.zvt"}},
		{"sizes", func(c *Config) { c.Log.MaxSizeMB, c.Log.MaxFiles = 2048, 101 }, []string{"log.max_size_mb", "log.max_files"}},
	})
}

func TestValidateJournal(t *testing.T) {
	runValidatorCases(t, (*Config).validateJournal, []validatorCase{
		{"keep everything", func(c *Config) {}, nil},
		{"400 days", func(c *Config) { c.Journal.Keep.Duration = 400 * Day }, nil},
		{"too short", func(c *Config) { c.Journal.Keep.Duration = 29 * Day }, []string{"journal.keep"}},
		{"too long", func(c *Config) { c.Journal.Keep.Duration = MaxJournalKeep + Day }, []string{"journal.keep"}},
	})
}

func validBindo() *Bindo {
	return &Bindo{GatewayURL: "https://stg-payment.bindo.co", LoginURL: "https://stg.bindo.co", StoreID: "8527",
		Username: "pos@store", PasswordFile: "/etc/posbridge/bindo_password", ClientID: "cid", ClientSecret: "cs"}
}

func TestValidateBindo(t *testing.T) {
	runValidatorCases(t, (*Config).validateBindo, []validatorCase{
		{"absent", func(c *Config) {}, nil},
		{"valid", func(c *Config) { c.Bindo = validBindo() }, nil},
		{"http urls", func(c *Config) {
			c.Bindo = validBindo()
			c.Bindo.GatewayURL, c.Bindo.LoginURL = "http://stg-payment.bindo.co", ""
		}, []string{"bindo.gateway_url", "bindo.login_url"}},
		{"http allowed", func(c *Config) {
			c.Bindo = validBindo()
			c.Bindo.GatewayURL, c.Bindo.AllowInsecureHTTP = "http://stg-payment.bindo.co", true
		}, nil},
		{"required", func(c *Config) { c.Bindo = &Bindo{GatewayURL: "https://g.example", LoginURL: "https://l.example"} },
			[]string{"bindo.store_id", "bindo.username", "bindo.password_file", "bindo.client_id", "bindo.client_secret"}},
	})
}

func TestValidateFallback(t *testing.T) {
	runValidatorCases(t, (*Config).validateFallback, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"bad mode", func(c *Config) { c.Fallback.Mode = "sometimes" }, []string{"fallback.mode"}},
		{"grace without bindo", func(c *Config) { c.Fallback.Mode, c.Fallback.OfflineGrace.Duration = "auto", 45*time.Second },
			[]string{"fallback.offline_grace"}},
		{"grace with bindo", func(c *Config) {
			c.Bindo, c.Fallback.Mode, c.Fallback.OfflineGrace.Duration = validBindo(), "auto", 45*time.Second
		}, nil},
		{"graces out of range", func(c *Config) {
			c.Bindo, c.Fallback.OfflineGrace.Duration, c.Fallback.UnreachableGrace.Duration = validBindo(), time.Millisecond, 2*time.Hour
		}, []string{"fallback.offline_grace", "fallback.unreachable_grace"}},
	})
}

func TestValidateTerminals(t *testing.T) {
	second := Terminal{SN: "WPYB002248000866", Lane: "2", Currency: "EUR"}
	runValidatorCases(t, (*Config).validateTerminals, []validatorCase{
		{"valid", func(c *Config) { c.Terminals = append(c.Terminals, second) }, nil},
		{"none", func(c *Config) { c.Terminals = nil }, []string{"terminal"}},
		{"bad sn", func(c *Config) { c.Terminals[0].SN = "WP YB" }, []string{"terminal[0].sn"}},
		{"duplicates", func(c *Config) {
			dup := c.Terminals[0]
			dup.Name = ""
			c.Terminals = append(c.Terminals, dup)
		}, []string{"terminal[1].sn", "terminal[1].lane"}},
		{"control characters", func(c *Config) { c.Terminals[0].Lane, c.Terminals[0].Name = "1\n", "a\tb" },
			[]string{"terminal[0].lane", "terminal[0].name"}},
		{"currency", func(c *Config) { c.Terminals = append(c.Terminals, second); c.Terminals[1].Currency = "usd" },
			[]string{"terminal[1].currency"}},
	})
}

// The [[ecr]] table keeps its own first-problem rules (validateECRs); this
// only checks that validate reaches it with the terminals' SNs.
func TestValidateECRTable(t *testing.T) {
	runValidatorCases(t, (*Config).validateECRTable, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"unknown terminal", func(c *Config) { c.ECRs[0].TerminalSN = "NOPE" }, []string{"ecr[0].terminal_sn"}},
	})
}

// A file with one problem gets exactly today's single error; a file with
// several gets all of them, one *Error each, in the order of the tables.
func TestParseReportsEveryProblem(t *testing.T) {
	one := strings.Replace(good, `data_dir = "/var/lib/posbridge"`, `data_dir = "data"`, 1)
	_, err := Parse(testFile, []byte(one))
	var ce *Error
	if !errors.As(err, &ce) || err != error(ce) {
		t.Fatalf("one problem: %T %v, want a bare *config.Error", err, err)
	}
	if want := testFile + `: agent.data_dir: must be an absolute path, got "data"`; err.Error() != want {
		t.Errorf("one problem: %q, want %q", err, want)
	}

	many := strings.NewReplacer(
		`data_dir = "/var/lib/posbridge"`, `data_dir = "data"`,
		`app_id = "wz6012822ca2f1as78"`, `app_id = ""`,
		`currency = "USD"`, `currency = "usd"`,
		`terminal_sn = "WPYB002248000865"`, `terminal_sn = "NOPE"`,
	).Replace(good) + "\n[log]\nlevel = \"loud\"\n"
	_, err = Parse(testFile, []byte(many))
	want := []string{"agent.data_dir", "codepay.app_id", "log.level", "terminal[0].currency", "ecr[0].terminal_sn"}
	if got := problemFields(t, err); !slices.Equal(got, want) {
		t.Fatalf("fields = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("Error() has %d lines, want one per problem:\n%s", len(lines), err)
	}
	if Problems(nil) != nil {
		t.Error("Problems(nil) != nil")
	}
}
