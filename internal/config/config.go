// Package config loads and validates posbridge's TOML configuration file
// (design/contract.md, "Configuration"). Unknown keys are an error; every
// error names the file, the field and the fix.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
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
	QRWallet  *QRWallet  `toml:"qrwallet"`
	IDPay     *IDPay     `toml:"idpay"`
	Link      Link       `toml:"link"` // providers.go: who hosts method link
	Fallback  Fallback   `toml:"fallback"`
	Terminals []Terminal `toml:"terminal"`
	ECRs      []ECR      `toml:"ecr"`
	Log       Log        `toml:"log"`
	Journal   Journal    `toml:"journal"`
	Receipt   Receipt    `toml:"receipt"` // receipt.go

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
	// LateCheckWindow is how long an ended payment that money may still
	// arrive for (an expired QR wallet or VA payment, a CodePay card
	// payment failed on "no record") is still checked for a late payment
	// (default 24h; docs/reliability.md).
	LateCheckWindow Duration `toml:"late_check_window"`
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
	// WebhookAppID, optional: the store's APP-ID issued by Bindo "for
	// Webhook"; when set, a pay-by-link webhook must carry it as X-APP-ID.
	WebhookAppID string `toml:"webhook_app_id"`
	// NotifyURL, optional: a public URL reaching /hooks/bindo, sent with each
	// native payment and pre-create so Bindo posts results (polling stays on).
	NotifyURL string `toml:"notify_url"`
	// LinkClientIP is sent as X-CLIENT-IP with every pre-create (pay-by-link,
	// [link] provider = "bindo", which requires it): the store's public IP.
	LinkClientIP string `toml:"link_client_ip"`
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
	// PasswordFile holds the ZVT password (6 digits) the ECR must send; ""
	// accepts any (docs/zvt.md, "Password").
	PasswordFile string `toml:"password_file"`
	// PrintWidth is the receipt width for an ECR that sends none (tag 12);
	// 0 means 24.
	PrintWidth int `toml:"print_width"`
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
	// DefaultLateCheckWindow is agent.late_check_window's default.
	DefaultLateCheckWindow = 24 * time.Hour
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
	// Every unknown key (with a suggestion, suggest.go) and every invalid
	// value, all at once.
	unknown := unknownKeys(file, md)
	c.Path = file
	c.applyDefaults()
	if err := joinProblems(append(unknown, Problems(c.validate())...)); err != nil {
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
	setDuration(&c.Agent.LateCheckWindow, DefaultLateCheckWindow)
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
		c.ECRs[i].SetDefaults()
	}
	c.applyProviderDefaults()
}

var (
	orderNoChars = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,32}$`)
	snChars      = regexp.MustCompile(`^[0-9A-Za-z_\-]{1,32}$`)
)

// IsLoopbackHost reports whether host (no port) is localhost or a loopback address.
func IsLoopbackHost(host string) bool { return netutil.IsLoopbackHost(host) }

// gatewayURLMessages words checkGatewayURL's refusals for one table:
// invalid (an empty or non-absolute URL; ", got %q" is appended unless
// the URL may carry a password), insecure (plain http to a remote host)
// and scheme (another scheme: a format with one %q for it; "" means
// insecure).
type gatewayURLMessages struct{ invalid, insecure, scheme string }

// checkGatewayURL applies netutil.ParseGatewayURL, the rule the provider
// clients apply too, and returns the refusal in the configuration's words,
// or "".
func checkGatewayURL(raw string, allowInsecureHTTP bool, m gatewayURLMessages) string {
	_, err := netutil.ParseGatewayURL(raw, allowInsecureHTTP)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, netutil.ErrURLRequired), errors.Is(err, netutil.ErrURLNotAbsolute):
		if strings.Contains(raw, "@") {
			return m.invalid
		}
		return fmt.Sprintf("%s, got %q", m.invalid, raw)
	case errors.Is(err, netutil.ErrURLInsecure), errors.Is(err, netutil.ErrURLScheme) && m.scheme == "":
		return m.insecure
	case errors.Is(err, netutil.ErrURLScheme):
		u, _ := url.Parse(raw) // parsed by ParseGatewayURL
		return fmt.Sprintf(m.scheme, u.Scheme)
	}
	return err.Error() // credentials, query or fragment
}

// validate checks every table and reports every problem found, one
// *Error per problem, in the order of the file's tables: a single problem
// is returned as its *Error, several are joined with errors.Join (see
// Problems). Within a field, only its first problem is reported.
func (c *Config) validate() error {
	var errs []error
	for _, v := range []func() error{
		c.validateAgent,
		c.validateCodePay,
		c.validateLog,
		c.validateJournal,
		c.validateBindo,
		c.validateQRWallet,
		c.validateIDPay,
		c.validateLink,
		c.validateFallback,
		c.validateTerminals,
		c.validateECRTable,
		c.validateReceipt,
	} {
		errs = append(errs, Problems(v())...)
	}
	return joinProblems(errs)
}

// Problems returns the individual problems of an error returned by Parse or
// Load: the *Error values of a configuration with several problems, or err
// itself. It returns nil for nil.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}

// joinProblems is nil, the one problem, or all of them joined.
func joinProblems(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// problems collects the problems of one table.
type problems struct {
	file string
	errs []error
}

// add records a problem with field.
func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err is nil, the one problem, or all of them joined.
func (p *problems) err() error { return joinProblems(p.errs) }

// validateAgent checks the [agent] table.
func (c *Config) validateAgent() error {
	p := &problems{file: c.Path}
	a := c.Agent
	if host, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
		p.add("agent.listen", "want host:port such as %q, got %q", DefaultListen, a.Listen)
	} else if !IsLoopbackHost(host) && !a.AllowRemote {
		p.add("agent.listen", "%q is not a loopback address; use 127.0.0.1 or set agent.allow_remote = true", a.Listen)
	}
	if !filepath.IsAbs(a.DataDir) {
		p.add("agent.data_dir", "must be an absolute path, got %q", a.DataDir)
	}
	if a.TokenFile == "" {
		p.add("agent.token_file", "required: a file with the bearer token(s) for the local API")
	}
	for i, o := range a.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			p.add(fmt.Sprintf("agent.allowed_origins[%d]", i), "want an origin such as \"http://localhost:3000\", got %q", o)
		}
	}
	p.durations([]durationRange{{"agent.late_check_window", a.LateCheckWindow.Duration, time.Hour, 30 * 24 * time.Hour}})
	return p.err()
}

// validateCodePay checks the [codepay] table.
func (c *Config) validateCodePay() error {
	p := &problems{file: c.Path}
	cp := c.CodePay
	if msg := checkGatewayURL(cp.GatewayURL, cp.AllowInsecureHTTP, gatewayURLMessages{
		invalid:  "want an https URL such as \"https://codepay-open.codepay.me\"",
		insecure: "plain http is only allowed for loopback emulators; use https or set codepay.allow_insecure_http = true",
		scheme:   "scheme must be https, got %q",
	}); msg != "" {
		p.add("codepay.gateway_url", "%s", msg)
	}
	for _, f := range []struct{ name, v string }{{"codepay.app_id", cp.AppID}, {"codepay.merchant_no", cp.MerchantNo}} {
		if f.v == "" {
			p.add(f.name, "required")
		} else if len(f.v) > 32 {
			p.add(f.name, "at most 32 characters, got %d", len(f.v))
		}
	}
	if len(cp.StoreNo) > 32 {
		p.add("codepay.store_no", "at most 32 characters, got %d", len(cp.StoreNo))
	}
	if cp.PrivateKeyFile == "" {
		p.add("codepay.private_key_file", "required: the app private key (PKCS#8 or PKCS#1 PEM)")
	}
	if cp.GatewayPublicKeyFile == "" {
		p.add("codepay.gateway_public_key_file", "required: the gateway public key, used to verify every response")
	}
	if d := cp.OrderExpires.Duration; d < 10*time.Second || d > 24*time.Hour || d%time.Second != 0 {
		p.add("codepay.order_expires", "want whole seconds between 10s and 24h, got %s", d)
	}
	if d := cp.PollInterval.Duration; d < 200*time.Millisecond || d > time.Minute {
		p.add("codepay.poll_interval", "want between 200ms and 1m, got %s", d)
	}
	if d := cp.QueueTimeout.Duration; d < 10*time.Second || d > 24*time.Hour {
		p.add("codepay.queue_timeout", "want between 10s and 24h, got %s", d)
	}
	if d := cp.CreateSettle.Duration; d < time.Second || d > time.Minute {
		p.add("codepay.create_settle", "want between 1s and 1m, got %s", d)
	}
	for i, code := range cp.OrderNotFoundCodes {
		if code == "" || len(code) > 32 || strings.TrimSpace(code) != code {
			p.add(fmt.Sprintf("codepay.order_not_found_codes[%d]", i), "want a gateway code such as \"40005\", got %q", code)
		}
	}
	if cp.NotifyURL != "" {
		nu, err := url.Parse(cp.NotifyURL)
		if err != nil || (nu.Scheme != "http" && nu.Scheme != "https") || nu.Host == "" || nu.RawQuery != "" || len(cp.NotifyURL) > 256 {
			p.add("codepay.notify_url", "want an absolute http(s) URL without query, at most 256 characters, got %q", cp.NotifyURL)
		}
	}
	return p.err()
}

// validLevel reports whether l is a log level [log] accepts.
func validLevel(l string) bool {
	switch strings.ToLower(l) {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}

// validateLog checks the [log] table.
func (c *Config) validateLog() error {
	p := &problems{file: c.Path}
	if !validLevel(c.Log.Level) {
		p.add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	comps := make([]string, 0, len(c.Log.Levels))
	for comp := range c.Log.Levels {
		comps = append(comps, comp)
	}
	sort.Strings(comps)
	for _, comp := range comps {
		if l := c.Log.Levels[comp]; !validLevel(l) {
			p.add("log.levels."+comp, "want debug, info, warn or error, got %q", l)
		}
	}
	if c.Log.MaxSizeMB < 1 || c.Log.MaxSizeMB > 1024 {
		p.add("log.max_size_mb", "want 1-1024, got %d", c.Log.MaxSizeMB)
	}
	if c.Log.MaxFiles < 1 || c.Log.MaxFiles > 100 {
		p.add("log.max_files", "want 1-100, got %d", c.Log.MaxFiles)
	}
	return p.err()
}

// validateJournal checks the [journal] table.
func (c *Config) validateJournal() error {
	p := &problems{file: c.Path}
	if k := c.Journal.Keep.Duration; k != 0 && (k < MinJournalKeep || k > MaxJournalKeep) {
		p.add("journal.keep", "want at least %dd and at most %dd (or leave it out to keep everything), got %s",
			MinJournalKeep/Day, MaxJournalKeep/Day, c.Journal.Keep)
	}
	return p.err()
}

// validateBindo checks the optional [bindo] table.
func (c *Config) validateBindo() error {
	b := c.Bindo
	if b == nil {
		return nil
	}
	p := &problems{file: c.Path}
	for _, f := range []struct{ name, v string }{{"bindo.gateway_url", b.GatewayURL}, {"bindo.login_url", b.LoginURL}} {
		if msg := checkGatewayURL(f.v, b.AllowInsecureHTTP, gatewayURLMessages{
			invalid:  "want an https URL",
			insecure: "https required (plain http only for loopback emulators or with bindo.allow_insecure_http = true)",
		}); msg != "" {
			p.add(f.name, "%s", msg)
		}
	}
	for _, f := range []struct{ name, v string }{{"bindo.store_id", b.StoreID}, {"bindo.username", b.Username},
		{"bindo.password_file", b.PasswordFile}, {"bindo.client_id", b.ClientID}, {"bindo.client_secret", b.ClientSecret}} {
		if f.v == "" {
			p.add(f.name, "required when [bindo] is configured")
		}
	}
	if b.WebhookAppID != "" && !printableASCII(b.WebhookAppID, 128) {
		p.add("bindo.webhook_app_id", "want the APP-ID Bindo issued: printable ASCII, at most 128 characters")
	}
	if ip, err := netip.ParseAddr(b.LinkClientIP); b.LinkClientIP != "" && (err != nil || ip.Zone() != "" || ip.String() != b.LinkClientIP) {
		p.add("bindo.link_client_ip", "want an IPv4 or IPv6 address in canonical form (sent as X-CLIENT-IP), got %q", b.LinkClientIP)
	}
	return p.err()
}

// printableASCII reports whether v is 1-max printable ASCII characters (a
// header value).
func printableASCII(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for i := range len(v) {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// validateFallback checks the [fallback] table (against [bindo]).
func (c *Config) validateFallback() error {
	p := &problems{file: c.Path}
	f := c.Fallback
	if f.Mode != "auto" && f.Mode != "never" {
		p.add("fallback.mode", "want \"auto\" or \"never\", got %q", f.Mode)
	}
	for _, g := range []struct {
		name string
		d    time.Duration
	}{{"fallback.offline_grace", f.OfflineGrace.Duration}, {"fallback.unreachable_grace", f.UnreachableGrace.Duration}} {
		switch {
		case g.name == "fallback.offline_grace" && f.Mode == "auto" && c.Bindo == nil && g.d > 0:
			p.add(g.name, "needs a [bindo] table to fall back to")
		case g.d != 0 && (g.d < time.Second || g.d > time.Hour):
			p.add(g.name, "want between 1s and 1h, got %s", g.d)
		}
	}
	return p.err()
}

// validateTerminals checks the [[terminal]] entries.
func (c *Config) validateTerminals() error {
	p := &problems{file: c.Path}
	if len(c.Terminals) == 0 {
		p.add("terminal", "at least one [[terminal]] is required")
	}
	sns, lanes := map[string]bool{}, map[string]bool{}
	for i, t := range c.Terminals {
		f := fmt.Sprintf("terminal[%d]", i)
		switch {
		case !snChars.MatchString(t.SN):
			p.add(f+".sn", "want 1-32 letters, digits, '-' or '_', got %q", t.SN)
		case sns[t.SN]:
			p.add(f+".sn", "duplicate terminal %q", t.SN)
		}
		sns[t.SN] = true
		laneErr := CheckText(t.Lane)
		if laneErr != nil {
			p.add(f+".lane", "%v", laneErr)
		}
		if err := CheckText(t.Name); err != nil {
			p.add(f+".name", "%v", err)
		}
		if t.Lane != "" && laneErr == nil {
			if lanes[t.Lane] {
				p.add(f+".lane", "lane %q is already used by another terminal", t.Lane)
			}
			lanes[t.Lane] = true
		}
		if _, err := money.LookupCurrency(t.Currency); err != nil {
			p.add(f+".currency", "want an ISO 4217 code such as \"USD\", got %q", t.Currency)
		}
	}
	return p.err()
}

// validateECRTable checks the [[ecr]] entries against the terminals with
// validateECRs (the first problem only).
func (c *Config) validateECRTable() error {
	bad := func(field, format string, args ...any) error {
		return &Error{File: c.Path, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	sns := make(map[string]bool, len(c.Terminals))
	for _, t := range c.Terminals {
		sns[t.SN] = true
	}
	return c.validateECRs(bad, sns)
}

// validateECRs checks the [[ecr]] entries (ECR.Problem); sns holds the
// terminals' SNs.
func (c *Config) validateECRs(bad func(field, format string, args ...any) error, sns map[string]bool) error {
	for i, e := range c.ECRs {
		field, msg := e.Problem(func(sn string) bool { return sns[sn] })
		if msg == "" {
			continue
		}
		f := fmt.Sprintf("ecr[%d]", i)
		if field != "" {
			f += "." + field
		}
		return bad(f, "%s", msg)
	}
	return nil
}

// ValidOrderNo reports whether s is a valid merchant_order_no (1–32 of [0-9A-Za-z_-|*@]).
func ValidOrderNo(s string) bool { return orderNoChars.MatchString(s) }

// ReadTokens reads bearer tokens from a file, one per line; blank lines and
// lines starting with # are ignored. At least one token of 16+ characters is required.
// It does not check the file's permissions: the agent reads the file with
// secretfile.Read and parses it with ParseTokens.
func ReadTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return ParseTokens(path, b)
}

// ParseTokens parses the contents b of the token file at path (named in
// errors) as ReadTokens does.
func ParseTokens(path string, b []byte) ([]string, error) {
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
