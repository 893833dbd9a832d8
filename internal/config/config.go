// Package config loads and validates posbridge's TOML configuration file
// (design/contract.md, "Configuration"). Unknown keys are an error; every
// error names the file, the field and the fix.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/posbridge/posbridge/internal/netutil"
	"github.com/posbridge/posbridge/money"
)

// Config is the whole configuration file.
type Config struct {
	Agent     Agent      `toml:"agent"`
	CodePay   CodePay    `toml:"codepay"`
	Bindo     *Bindo     `toml:"bindo"`
	Fallback  Fallback   `toml:"fallback"`
	Terminals []Terminal `toml:"terminal"`
	ECRs      []ECR      `toml:"ecr"`
	Log       Log        `toml:"log"`
	Journal   Journal    `toml:"journal"`

	// Path is the absolute path the configuration was read from.
	Path string `toml:"-"`
}

// Agent is the [agent] table.
type Agent struct {
	Listen         string   `toml:"listen"`
	DataDir        string   `toml:"data_dir"`
	TokenFile      string   `toml:"token_file"`
	AllowedOrigins []string `toml:"allowed_origins"`
	// AllowRemote permits a non-loopback listen address (off by default).
	AllowRemote bool `toml:"allow_remote"`
}

// CodePay is the [codepay] table.
type CodePay struct {
	GatewayURL           string   `toml:"gateway_url"`
	AppID                string   `toml:"app_id"`
	MerchantNo           string   `toml:"merchant_no"`
	StoreNo              string   `toml:"store_no"`
	PrivateKeyFile       string   `toml:"private_key_file"`
	GatewayPublicKeyFile string   `toml:"gateway_public_key_file"`
	OrderExpires         Duration `toml:"order_expires"`
	PollInterval         Duration `toml:"poll_interval"`
	NotifyURL            string   `toml:"notify_url"`
	// QueueTimeout is how long a payment may wait in its terminal's queue
	// before it expires there unsent (default 10m).
	QueueTimeout Duration `toml:"queue_timeout"`
	// CreateSettle is how long after a create's HTTP exchange ended a
	// signed "order not found" is trusted (default 5s); docs/reliability.md.
	CreateSettle Duration `toml:"create_settle"`
	// OrderNotFoundCodes are the gateway codes that mean "no such order" on
	// order.query (default: the emulator's 40005; see docs/codepay.md).
	OrderNotFoundCodes []string `toml:"order_not_found_codes"`
	// AllowInsecureHTTP permits a plain-http gateway_url on a non-loopback host.
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
}

// Bindo is the optional [bindo] table (native card-present fallback).
type Bindo struct {
	GatewayURL        string `toml:"gateway_url"`
	LoginURL          string `toml:"login_url"`
	StoreID           string `toml:"store_id"`
	Username          string `toml:"username"`
	PasswordFile      string `toml:"password_file"`
	ClientID          string `toml:"client_id"`
	ClientSecret      string `toml:"client_secret"`
	WebhookSecretFile string `toml:"webhook_secret_file"`
	// NotifyURL, optional: a public URL reaching /hooks/bindo, sent with each
	// native payment so Bindo posts results (polling stays on).
	NotifyURL string `toml:"notify_url"`
	// AllowInsecureHTTP permits plain-http URLs on non-loopback hosts.
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
}

// Log is the optional [log] table.
type Log struct {
	// Level is the default level: debug, info, warn or error (default info).
	Level string `toml:"level"`
	// Levels overrides the level per component (agent, codepay, codepaysim,
	// wsapi, rpc, ecr, store ...).
	Levels map[string]string `toml:"levels"`
	// Dir is where posbridge.log rotates (default: data_dir/logs; "-" = no file).
	Dir string `toml:"dir"`
	// MaxSizeMB and MaxFiles bound the log files (defaults 10 and 5).
	MaxSizeMB int `toml:"max_size_mb"`
	MaxFiles  int `toml:"max_files"`
}

// Journal is the optional [journal] table: retention of the journal.
type Journal struct {
	// Keep is how long a final payment stays in the journal after its last
	// change ("400d"; 0, the default, keeps everything). When set, `posbridge
	// run` moves older ones, with their events and old closed batches, into
	// data_dir/archive/posbridge-archive-YYYY.db once a day (docs/operations.md).
	Keep Days `toml:"keep"`
}

// MinJournalKeep and MaxJournalKeep bound [journal] keep.
const (
	MinJournalKeep = 30 * Day
	MaxJournalKeep = 36500 * Day
)

// Day is 24 hours, the unit of Days.
const Day = 24 * time.Hour

// Days is a long duration written in days ("400d") or as a Go duration
// ("9600h").
type Days struct{ time.Duration }

// UnmarshalText parses "400d" or a Go duration such as "9600h".
func (d *Days) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 0 || v > int64(MaxJournalKeep/Day) {
			return fmt.Errorf("want a number of days such as \"400d\", got %q", b)
		}
		d.Duration = time.Duration(v) * Day
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a number of days such as \"400d\", got %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText renders whole days as "400d", anything else as a Go duration.
func (d Days) MarshalText() ([]byte, error) {
	if d.Duration%Day == 0 {
		return []byte(strconv.FormatInt(int64(d.Duration/Day), 10) + "d"), nil
	}
	return []byte(d.Duration.String()), nil
}

// Fallback is the [fallback] table.
type Fallback struct {
	Mode string `toml:"mode"`
	// OfflineGrace is how long a payment waits for an offline terminal before
	// it is withdrawn and fails with codepay_unavailable, so the POS can take
	// the card through Bindo (default 60s; only with [bindo] and mode auto).
	OfflineGrace Duration `toml:"offline_grace"`
	// UnreachableGrace is how long CodePay may be unreachable before such a
	// payment fails with codepay_unavailable (default 30s).
	UnreachableGrace Duration `toml:"unreachable_grace"`
}

// Terminal is one [[terminal]] entry.
type Terminal struct {
	SN       string `toml:"sn"`
	Lane     string `toml:"lane"`
	Name     string `toml:"name"`
	Currency string `toml:"currency"`
}

// ECR is one [[ecr]] entry.
type ECR struct {
	Protocol   string `toml:"protocol"`
	Serial     string `toml:"serial"`
	TCPListen  string `toml:"tcp_listen"`
	Baud       int    `toml:"baud"`
	DataBits   int    `toml:"data_bits"`
	Parity     string `toml:"parity"`
	StopBits   int    `toml:"stop_bits"`
	TerminalSN string `toml:"terminal_sn"`
}

// Duration is a time.Duration written as a Go duration string ("180s").
type Duration struct{ time.Duration }

// UnmarshalText parses "2s", "180s", "3m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"2s\" or \"3m\", got %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Error is a configuration error naming the file and field.
type Error struct {
	File  string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Defaults used when a key is absent.
const (
	DefaultListen       = "127.0.0.1:8765"
	DefaultOrderExpires = 180 * time.Second
	DefaultPollInterval = 2 * time.Second
	DefaultQueueTimeout = 10 * time.Minute
	DefaultCreateSettle = 5 * time.Second
)

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve config path %s: %w", path, err)
	}
	b, err := os.ReadFile(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("config file %s does not exist: pass the path of your posbridge.toml with --config: %w", abs, err)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("config file %s cannot be read by this user: run posbridge as the service user or fix the file's owner: %w", abs, err)
	case err != nil:
		return nil, fmt.Errorf("read config %s: %w", abs, err)
	}
	return Parse(abs, b)
}

// Parse decodes and validates configuration text; file names the source in errors.
func Parse(file string, text []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(text), &c)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, &Error{File: file, Field: keys[0], Msg: fmt.Sprintf("unknown key (unknown keys: %s)", strings.Join(keys, ", "))}
	}
	c.Path = file
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.Agent.Listen == "" {
		c.Agent.Listen = DefaultListen
	}
	if c.Agent.DataDir == "" {
		c.Agent.DataDir = DefaultDataDir()
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Dir == "" {
		c.Log.Dir = filepath.Join(c.Agent.DataDir, "logs")
	}
	if c.Log.MaxSizeMB == 0 {
		c.Log.MaxSizeMB = 10
	}
	if c.Log.MaxFiles == 0 {
		c.Log.MaxFiles = 5
	}
	if c.CodePay.OrderExpires.Duration == 0 {
		c.CodePay.OrderExpires.Duration = DefaultOrderExpires
	}
	if c.CodePay.PollInterval.Duration == 0 {
		c.CodePay.PollInterval.Duration = DefaultPollInterval
	}
	if c.CodePay.QueueTimeout.Duration == 0 {
		c.CodePay.QueueTimeout.Duration = DefaultQueueTimeout
	}
	if c.CodePay.CreateSettle.Duration == 0 {
		c.CodePay.CreateSettle.Duration = DefaultCreateSettle
	}
	if c.Fallback.Mode == "" {
		if c.Bindo != nil {
			c.Fallback.Mode = "auto"
		} else {
			c.Fallback.Mode = "never"
		}
	}
	for i := range c.ECRs {
		e := &c.ECRs[i]
		if e.Baud == 0 {
			e.Baud = 9600
		}
		if e.DataBits == 0 {
			e.DataBits = 8
		}
		if e.Parity == "" {
			e.Parity = "none"
		}
		if e.StopBits == 0 {
			e.StopBits = 2
		}
	}
}

var (
	orderNoChars = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,32}$`)
	snChars      = regexp.MustCompile(`^[0-9A-Za-z_\-]{1,32}$`)
)

// IsLoopbackHost reports whether host (no port) is localhost or a loopback address.
func IsLoopbackHost(host string) bool { return netutil.IsLoopbackHost(host) }

func (c *Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &Error{File: c.Path, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	// [agent]
	host, port, err := net.SplitHostPort(c.Agent.Listen)
	if err != nil || port == "" {
		return bad("agent.listen", "want host:port such as %q, got %q", DefaultListen, c.Agent.Listen)
	}
	if !IsLoopbackHost(host) && !c.Agent.AllowRemote {
		return bad("agent.listen", "%q is not a loopback address; use 127.0.0.1 or set agent.allow_remote = true", c.Agent.Listen)
	}
	if !filepath.IsAbs(c.Agent.DataDir) {
		return bad("agent.data_dir", "must be an absolute path, got %q", c.Agent.DataDir)
	}
	if c.Agent.TokenFile == "" {
		return bad("agent.token_file", "required: a file with the bearer token(s) for the local API")
	}
	for i, o := range c.Agent.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return bad(fmt.Sprintf("agent.allowed_origins[%d]", i), "want an origin such as \"http://localhost:3000\", got %q", o)
		}
	}
	// [codepay]
	cp := c.CodePay
	u, err := url.Parse(cp.GatewayURL)
	if cp.GatewayURL == "" || err != nil || u.Host == "" {
		return bad("codepay.gateway_url", "want an https URL such as \"https://codepay-open.codepay.me\", got %q", cp.GatewayURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) && !cp.AllowInsecureHTTP {
			return bad("codepay.gateway_url", "plain http is only allowed for loopback emulators; use https or set codepay.allow_insecure_http = true")
		}
	default:
		return bad("codepay.gateway_url", "scheme must be https, got %q", u.Scheme)
	}
	for _, f := range []struct{ name, v string }{{"codepay.app_id", cp.AppID}, {"codepay.merchant_no", cp.MerchantNo}} {
		if f.v == "" {
			return bad(f.name, "required")
		}
		if len(f.v) > 32 {
			return bad(f.name, "at most 32 characters, got %d", len(f.v))
		}
	}
	if len(cp.StoreNo) > 32 {
		return bad("codepay.store_no", "at most 32 characters, got %d", len(cp.StoreNo))
	}
	if cp.PrivateKeyFile == "" {
		return bad("codepay.private_key_file", "required: the app private key (PKCS#8 or PKCS#1 PEM)")
	}
	if cp.GatewayPublicKeyFile == "" {
		return bad("codepay.gateway_public_key_file", "required: the gateway public key, used to verify every response")
	}
	if d := cp.OrderExpires.Duration; d < 10*time.Second || d > 24*time.Hour || d%time.Second != 0 {
		return bad("codepay.order_expires", "want whole seconds between 10s and 24h, got %s", d)
	}
	if d := cp.PollInterval.Duration; d < 200*time.Millisecond || d > time.Minute {
		return bad("codepay.poll_interval", "want between 200ms and 1m, got %s", d)
	}
	if d := cp.QueueTimeout.Duration; d < 10*time.Second || d > 24*time.Hour {
		return bad("codepay.queue_timeout", "want between 10s and 24h, got %s", d)
	}
	if d := cp.CreateSettle.Duration; d < time.Second || d > time.Minute {
		return bad("codepay.create_settle", "want between 1s and 1m, got %s", d)
	}
	for i, code := range cp.OrderNotFoundCodes {
		if code == "" || len(code) > 32 || strings.TrimSpace(code) != code {
			return bad(fmt.Sprintf("codepay.order_not_found_codes[%d]", i), "want a gateway code such as \"40005\", got %q", code)
		}
	}
	if cp.NotifyURL != "" {
		nu, err := url.Parse(cp.NotifyURL)
		if err != nil || (nu.Scheme != "http" && nu.Scheme != "https") || nu.Host == "" || nu.RawQuery != "" || len(cp.NotifyURL) > 256 {
			return bad("codepay.notify_url", "want an absolute http(s) URL without query, at most 256 characters, got %q", cp.NotifyURL)
		}
	}
	// [log]
	for _, l := range append([]string{c.Log.Level}, mapValues(c.Log.Levels)...) {
		switch strings.ToLower(l) {
		case "debug", "info", "warn", "error":
		default:
			return bad("log.level", "want debug, info, warn or error, got %q", l)
		}
	}
	if c.Log.MaxSizeMB < 1 || c.Log.MaxSizeMB > 1024 || c.Log.MaxFiles < 1 || c.Log.MaxFiles > 100 {
		return bad("log.max_size_mb", "want max_size_mb 1-1024 and max_files 1-100")
	}
	// [journal]
	if k := c.Journal.Keep.Duration; k != 0 && (k < MinJournalKeep || k > MaxJournalKeep) {
		return bad("journal.keep", "want at least %dd and at most %dd (or leave it out to keep everything), got %s",
			MinJournalKeep/Day, MaxJournalKeep/Day, c.Journal.Keep)
	}
	// [bindo]
	if b := c.Bindo; b != nil {
		for _, f := range []struct{ name, v string }{{"bindo.gateway_url", b.GatewayURL}, {"bindo.login_url", b.LoginURL}} {
			u, err := url.Parse(f.v)
			if f.v == "" || err != nil || u.Host == "" {
				return bad(f.name, "want an https URL, got %q", f.v)
			}
			if u.Scheme != "https" && !(u.Scheme == "http" && (IsLoopbackHost(u.Hostname()) || b.AllowInsecureHTTP)) {
				return bad(f.name, "https required (plain http only for loopback emulators or with bindo.allow_insecure_http = true)")
			}
		}
		for _, f := range []struct{ name, v string }{{"bindo.store_id", b.StoreID}, {"bindo.username", b.Username},
			{"bindo.password_file", b.PasswordFile}, {"bindo.client_id", b.ClientID}, {"bindo.client_secret", b.ClientSecret}} {
			if f.v == "" {
				return bad(f.name, "required when [bindo] is configured")
			}
		}
	}
	// [fallback]
	if c.Fallback.Mode != "auto" && c.Fallback.Mode != "never" {
		return bad("fallback.mode", "want \"auto\" or \"never\", got %q", c.Fallback.Mode)
	}
	if c.Fallback.Mode == "auto" && c.Bindo == nil && c.Fallback.OfflineGrace.Duration > 0 {
		return bad("fallback.offline_grace", "needs a [bindo] table to fall back to")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"fallback.offline_grace", c.Fallback.OfflineGrace.Duration}, {"fallback.unreachable_grace", c.Fallback.UnreachableGrace.Duration}} {
		if f.d != 0 && (f.d < time.Second || f.d > time.Hour) {
			return bad(f.name, "want between 1s and 1h, got %s", f.d)
		}
	}
	// [[terminal]]
	if len(c.Terminals) == 0 {
		return bad("terminal", "at least one [[terminal]] is required")
	}
	sns, lanes := map[string]bool{}, map[string]bool{}
	for i, t := range c.Terminals {
		f := fmt.Sprintf("terminal[%d]", i)
		if !snChars.MatchString(t.SN) {
			return bad(f+".sn", "want 1-32 letters, digits, '-' or '_', got %q", t.SN)
		}
		if sns[t.SN] {
			return bad(f+".sn", "duplicate terminal %q", t.SN)
		}
		sns[t.SN] = true
		for _, tf := range []struct{ name, v string }{{"lane", t.Lane}, {"name", t.Name}} {
			if err := CheckText(tf.v); err != nil {
				return bad(f+"."+tf.name, "%v", err)
			}
		}
		if t.Lane != "" {
			if lanes[t.Lane] {
				return bad(f+".lane", "lane %q is already used by another terminal", t.Lane)
			}
			lanes[t.Lane] = true
		}
		if _, err := money.LookupCurrency(t.Currency); err != nil {
			return bad(f+".currency", "want an ISO 4217 code such as \"USD\", got %q", t.Currency)
		}
	}
	// [[ecr]]
	for i, e := range c.ECRs {
		f := fmt.Sprintf("ecr[%d]", i)
		if e.Protocol != "zvt" {
			return bad(f+".protocol", "only \"zvt\" is supported, got %q", e.Protocol)
		}
		if (e.Serial == "") == (e.TCPListen == "") {
			return bad(f, "set exactly one of serial or tcp_listen")
		}
		if !sns[e.TerminalSN] {
			return bad(f+".terminal_sn", "no [[terminal]] with sn %q", e.TerminalSN)
		}
		switch e.Parity {
		case "none", "even", "odd":
		default:
			return bad(f+".parity", "want none, even or odd, got %q", e.Parity)
		}
		if e.DataBits < 5 || e.DataBits > 8 {
			return bad(f+".data_bits", "want 5-8, got %d", e.DataBits)
		}
		if e.StopBits != 1 && e.StopBits != 2 {
			return bad(f+".stop_bits", "want 1 or 2, got %d", e.StopBits)
		}
	}
	return nil
}

// ValidOrderNo reports whether s is a valid merchant_order_no (1–32 of [0-9A-Za-z_-|*@]).
func ValidOrderNo(s string) bool { return orderNoChars.MatchString(s) }

// ReadTokens reads bearer tokens from a file, one per line; blank lines and
// lines starting with # are ignored. At least one token of 16+ characters is required.
func ReadTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	var toks []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 16 {
			return nil, fmt.Errorf("read token file %s: a token is shorter than 16 characters", path)
		}
		toks = append(toks, line)
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("read token file %s: no token in the file", path)
	}
	return toks, nil
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
