package pt

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
)

// Defaults of Config.
const (
	// DefaultKeepAlive is the longest gap between two Intermediate
	// Status-Information (04 FF) messages while the cloud works; far below
	// the ECR's T4 of 180 s.
	DefaultKeepAlive = 20 * time.Second
	// DefaultResponseTimeout is T3: how long the PT waits for the ECR's
	// application response (80 00 00) to one of its messages.
	DefaultResponseTimeout = zvt.DefaultT3
	// DefaultStatusRepeats is how often an unacknowledged Status-Information
	// is sent again before the PT gives up (and auto-reverses).
	DefaultStatusRepeats = 2
	// DefaultNoStatusDeadline: when the ECR did not ask for intermediate
	// status (no 04 FF resets its T4 of 180 s), a payment still running this
	// long after 80 00 00 is cancelled if it can still be cancelled.
	DefaultNoStatusDeadline = 150 * time.Second
	// DefaultMaxAmount is the largest payment in major units of the
	// terminal's currency; above it the PT answers C3 "maximum amount exceeded".
	DefaultMaxAmount = "1000000"
	// DefaultSWVersion is sent in the Status-Enquiry completion.
	DefaultSWVersion = "posbridge"
)

const (
	// pleaseWaitDelay: after 84 9C 00 the PT repeats the Status-Information
	// 2 s later (PA00P015 §2.2.6).
	pleaseWaitDelay = 2 * time.Second
	// maxPleaseWait bounds the 84 9C 00 loop when the ECR sent no BMP 02.
	maxPleaseWait = 30
	// listLimit is how many of the terminal's newest payments a receipt-number
	// look-up or the start-up recovery searches.
	listLimit = 500
	// counterWrap: the sequence counter never wraps, so order numbers stay unique.
	counterWrap = 0
	// noteKind is the journal event kind of the PT's protocol notes.
	noteKind = "ecr"
	// ackNotePrefix starts the note recording that the ECR acknowledged a
	// result; Recover reverses approved sales that lack it.
	ackNotePrefix = "the ECR acknowledged the status information"
)

// Sentinel errors.
var (
	// ErrInvalidConfig means New was given an unusable Config.
	ErrInvalidConfig = errors.New("invalid ECR configuration")
	// errNoLine means no ECR line is attached to the running job.
	errNoLine = errors.New("no ECR line attached")
	// errNoResponse means the ECR did not answer within T3.
	errNoResponse = errors.New("no application response from the ECR within T3")
	// errLineClosed means the line ended while the PT waited for an answer.
	errLineClosed = errors.New("ECR line closed")
)

var (
	nameRE     = regexp.MustCompile(`^[0-9A-Za-z_]{1,8}$`)
	passwordRE = regexp.MustCompile(`^[0-9]{6}$`)
)

// Config configures one PT (one [[ecr]] entry).
type Config struct {
	// Name identifies the ECR in order numbers, counters and logs:
	// 1–8 of [0-9A-Za-z_], e.g. "ecr0".
	Name string
	// TerminalSN is the CodePay terminal the ECR's payments go to.
	TerminalSN string
	Agent      Agent
	// Memory keeps the PT's counter, notes and settings in the journal
	// (store.ECRMemory); required.
	Memory Memory
	Logger *slog.Logger
	// Clock drives the protocol timers; nil means zvt.SystemClock.
	Clock zvt.Clock
	// Location is the time zone of BMP 0C/0D; nil means time.Local.
	Location *time.Location
	// KeepAlive, ResponseTimeout, StatusRepeats, NoStatusDeadline: see the
	// Default* constants; zero takes the default.
	KeepAlive        time.Duration
	ResponseTimeout  time.Duration
	StatusRepeats    int
	NoStatusDeadline time.Duration
	// MaxAmount is the largest payment in major units ("1000000" by default).
	MaxAmount string
	// SWVersion is the software version in the Status-Enquiry completion.
	SWVersion string
	// Password is the ZVT password (6 digits, PA00P015 §1.2) the ECR must
	// send with the commands that carry one (06 00, 06 10, 06 20, 06 30,
	// 06 31, 06 50, 05 01 when sent); a wrong one is refused with 84 83 00. ""
	// accepts any password.
	Password string
	// PrintWidth is the receipt line width for an ECR that does not send its
	// printer's width (tag 12); 0 means DefaultPrintWidth.
	PrintWidth int
}

// PT is posbridge acting as the ZVT payment terminal for one ECR. Lines attach
// with Session; Serve runs its background work and bounds its lifetime.
type PT struct {
	cfg      Config
	ag       Agent
	mem      Memory
	log      *slog.Logger
	clock    zvt.Clock
	loc      *time.Location
	term     device.Terminal
	tid      string
	numeric  int // ISO 4217 numeric code of the terminal's currency; 0 if unmapped
	maxMinor int64

	ctx    context.Context // lifetime of jobs and watchers
	cancel context.CancelFunc
	wg     sync.WaitGroup

	started     atomic.Bool
	recoverOnce sync.Once
	recoverErr  error

	mu         sync.Mutex
	registered bool
	reg        registration
	nextSess   uint64
	job        *job
	last       *payJob  // the newest payment job, for re-sent requests
	lastAdmin  *printed // the last end-of-day receipt printed, for Repeat Receipt
	orphans    []string // unfinished payments found by Recover, until Serve runs
	serving    bool
}

// setDefaults fills the unset fields and checks the password and the
// print width.
func (cfg *Config) setDefaults() error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = zvt.SystemClock{}
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.KeepAlive, DefaultKeepAlive}, {&cfg.ResponseTimeout, DefaultResponseTimeout}, {&cfg.NoStatusDeadline, DefaultNoStatusDeadline}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.StatusRepeats <= 0 {
		cfg.StatusRepeats = DefaultStatusRepeats
	}
	if cfg.MaxAmount == "" {
		cfg.MaxAmount = DefaultMaxAmount
	}
	if cfg.SWVersion == "" {
		cfg.SWVersion = DefaultSWVersion
	}
	if cfg.PrintWidth == 0 {
		cfg.PrintWidth = DefaultPrintWidth
	}
	if cfg.Password != "" && !passwordRE.MatchString(cfg.Password) {
		return fmt.Errorf("%w: the ZVT password must be 6 digits", ErrInvalidConfig)
	}
	if cfg.PrintWidth < receipt.MinWidth || cfg.PrintWidth > receipt.MaxWidth {
		return fmt.Errorf("%w: print width %d: want %d to %d characters", ErrInvalidConfig, cfg.PrintWidth, receipt.MinWidth, receipt.MaxWidth)
	}
	return nil
}

// New builds a PT; it does no I/O.
func New(cfg Config) (*PT, error) {
	if !nameRE.MatchString(cfg.Name) {
		return nil, fmt.Errorf("%w: name %q: want 1-8 of 0-9 A-Z a-z _", ErrInvalidConfig, cfg.Name)
	}
	if cfg.Agent == nil {
		return nil, fmt.Errorf("%w: agent is required", ErrInvalidConfig)
	}
	if cfg.Memory == nil {
		return nil, fmt.Errorf("%w: memory is required", ErrInvalidConfig)
	}
	term, err := cfg.Agent.Registry().Lookup(cfg.TerminalSN)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	maxMinor, err := money.Parse(cfg.MaxAmount, term.Currency)
	if err != nil || maxMinor > zvt.MaxAmount {
		return nil, fmt.Errorf("%w: max amount %q is not an amount in %s below 10^12 minor units", ErrInvalidConfig, cfg.MaxAmount, term.Currency.Code)
	}
	numeric, _ := CurrencyNumeric(term.Currency.Code)
	ctx, cancel := context.WithCancel(context.Background())
	return &PT{
		cfg: cfg, ag: cfg.Agent, mem: cfg.Memory, clock: cfg.Clock, loc: cfg.Location, term: term,
		log: cfg.Logger.With("component", "ecr.pt", "ecr", cfg.Name, "terminal_sn", term.SN),
		tid: TerminalID(term.SN), numeric: numeric, maxMinor: maxMinor,
		ctx: ctx, cancel: cancel, reg: registration{configByte: zvt.ConfigAfterLogOff},
	}, nil
}

// Name returns the ECR's name.
func (p *PT) Name() string { return p.cfg.Name }

// TerminalSN returns the CodePay terminal this PT drives.
func (p *PT) TerminalSN() string { return p.term.SN }

// mine reports whether an order number belongs to this ECR (a payment or an
// automatic reversal).
func (p *PT) mine(orderNo string) bool {
	return strings.HasPrefix(orderNo, orderPrefix+p.cfg.Name+"-") || strings.HasPrefix(orderNo, reversalPrefix+p.cfg.Name+"-")
}

// Recover looks in the journal for this ECR's payments that were still
// running when posbridge last stopped. Their results can no longer reach the
// ECR, so the PT follows each to its end and auto-reverses an approved sale.
// It runs once: call it before the agent starts reconciling; otherwise the
// first of Serve and Session runs it, before any new payment can exist.
func (p *PT) Recover(ctx context.Context) error {
	p.recoverOnce.Do(func() { p.recoverErr = p.recover(ctx) })
	return p.recoverErr
}

// registrationKey is where the ECR's registration survives restarts, so an
// ECR that asked for intermediate status keeps getting 04 FF without
// registering again.
func (p *PT) registrationKey() string { return "zvt." + p.cfg.Name + ".registration" }

// seqCounter names the durable counter of the ECR's sequence numbers, from
// which trace and receipt numbers derive.
func (p *PT) seqCounter() string { return "zvt." + p.cfg.Name + ".seq" }

func (p *PT) saveRegistration(ctx context.Context, v string) {
	if err := p.mem.SetSetting(context.WithoutCancel(ctx), p.registrationKey(), v); err != nil {
		p.log.Warn("saving the ECR registration failed", "err", err)
	}
}

func (p *PT) loadRegistration(ctx context.Context) {
	v, err := p.mem.Setting(ctx, p.registrationKey())
	if err != nil || v == "" {
		return
	}
	r, ok := parseRegistration(v)
	if !ok {
		return
	}
	p.mu.Lock()
	p.registered, p.reg = true, r
	p.mu.Unlock()
	p.log.Info("ECR registration restored", "config_byte", r.configByte)
}

func (p *PT) recover(ctx context.Context) error {
	p.loadRegistration(ctx)
	list, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		return fmt.Errorf("recover ECR %s payments: %w", p.cfg.Name, err)
	}
	var found []string
	for _, pay := range list {
		if !p.mine(pay.MerchantOrderNo) {
			continue
		}
		if !pay.Final() || p.resultUndelivered(ctx, pay) {
			found = append(found, pay.MerchantOrderNo)
		}
	}
	if len(found) == 0 {
		return nil
	}
	p.log.Warn("ECR payments were running when posbridge stopped; their results cannot reach the ECR, approved sales will be reversed", "count", len(found))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.serving {
		for _, no := range found {
			p.goSafe("orphan watcher", func() { p.watchOrphan(no) })
		}
		return nil
	}
	p.orphans = append(p.orphans, found...)
	return nil
}

// resultUndelivered reports an approved ECR sale whose result the ECR never
// acknowledged and that was not reversed yet: posbridge stopped between the
// payment ending and the ECR's acknowledgement of its status information
// (PA00P015 §2.2.8–2.2.9), so the ECR treats it as failed and it must be reversed.
func (p *PT) resultUndelivered(ctx context.Context, pay agent.Payment) bool {
	if pay.State != agent.StateApproved || pay.Type != agent.TypeSale || strings.HasPrefix(pay.MerchantOrderNo, reversalPrefix) {
		return false
	}
	// A synchronising ECR's next transaction decides (sync.go).
	found, err := p.hasNote(ctx, pay.MerchantOrderNo, ackNotePrefix, "auto-reversal", syncNotePrefix)
	return err == nil && !found
}

// hasNote reports whether one of a payment's protocol notes starts with one
// of the prefixes.
func (p *PT) hasNote(ctx context.Context, orderNo string, prefixes ...string) (bool, error) {
	notes, err := p.mem.Notes(ctx, orderNo, noteKind)
	if err != nil {
		return false, err
	}
	for _, n := range notes {
		for _, pre := range prefixes {
			if strings.HasPrefix(n, pre) {
				return true, nil
			}
		}
	}
	return false, nil
}

// Serve runs the PT's background work (payments found by Recover) until ctx
// ends, then stops its jobs and waits for them. Payments keep running in the
// agent; the next start recovers them.
func (p *PT) Serve(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("serve ECR PT: Serve called twice")
	}
	if err := p.Recover(ctx); err != nil {
		p.log.Error("recovering unfinished ECR payments", "err", err)
	}
	p.mu.Lock()
	p.serving = true
	orphans := p.orphans
	p.orphans = nil
	p.mu.Unlock()
	for _, no := range orphans {
		p.goSafe("orphan watcher", func() { p.watchOrphan(no) })
	}
	<-ctx.Done()
	p.cancel()
	p.wg.Wait()
	return nil
}

// goSafe runs fn in a goroutine tracked by Serve, recovering a panic.
func (p *PT) goSafe(what string, fn func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.recoverPanic(what)
		fn()
	}()
}

// recoverPanic logs a panic without its value's contents beyond a runtime
// error message (never card data) and swallows it.
func (p *PT) recoverPanic(where string) {
	r := recover()
	if r == nil {
		return
	}
	desc := fmt.Sprintf("%T", r)
	if re, ok := r.(runtime.Error); ok {
		desc = re.Error()
	}
	p.log.Error("recovered from a panic in the ECR session; the port continues", "where", where, "panic", desc, "stack", string(debug.Stack()))
}

// session is one attached line (a serial port while open, a TCP connection).
type session struct {
	id         uint64
	t          zvt.Transport
	continuous bool
	resp       chan zvt.APDU // the ECR's application responses (80 xx / 84 xx)
	done       chan struct{}
}

// drain discards responses nobody waits for and reports how many there were.
func (s *session) drain() int {
	n := 0
	for {
		select {
		case <-s.resp:
			n++
		default:
			return n
		}
	}
}

// Session serves one line until it fails or ctx ends: it reads the ECR's
// messages, answers commands and routes responses to the running job.
// continuous marks a line that carries on the previous one (a serial port
// reopened after a loss): a job left without a line continues on it. A TCP
// connection is not continuous: only re-sending the same request re-attaches
// a running payment. Session returns nil when ctx ends or the ECR closes a
// TCP connection; the caller closes the transport.
func (p *PT) Session(ctx context.Context, t zvt.Transport, continuous bool) error {
	if err := p.Recover(ctx); err != nil {
		p.log.Error("recovering unfinished ECR payments", "err", err)
	}
	s := p.attach(t, continuous)
	defer p.detach(s)
	p.log.Debug("ECR line attached", "session", s.id, "continuous", continuous)
	for {
		a, err := t.ReadAPDU(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read ECR message: %w", err)
		}
		p.handleSafe(ctx, s, a)
	}
}

func (p *PT) attach(t zvt.Transport, continuous bool) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextSess++
	s := &session{id: p.nextSess, t: t, continuous: continuous, resp: make(chan zvt.APDU, 8), done: make(chan struct{})}
	if j := p.job; continuous && j != nil && j.sess == nil && j.continuous {
		j.sess = s
		j.signal()
		p.log.Info("ECR line back: the running job continues on it", "job", j.kind)
	}
	return s
}

func (p *PT) detach(s *session) {
	close(s.done)
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.job; j != nil && j.sess == s {
		j.sess = nil
		j.signal()
	}
}

// reply writes an answer on a line without waiting for a response.
func (p *PT) reply(ctx context.Context, s *session, a zvt.APDU) {
	if err := s.t.WriteAPDU(ctx, a); err != nil && ctx.Err() == nil {
		p.log.Warn("answering the ECR failed", "msg", zvt.ControlName(a.Control()), "err", err)
	}
}

func (p *PT) handleSafe(ctx context.Context, s *session, a zvt.APDU) {
	defer func() {
		if r := recover(); r != nil {
			// Re-panic into recoverPanic's logging, then answer "system error".
			func() {
				defer p.recoverPanic("handling " + a.String())
				panic(r)
			}()
			if a.Class != zvt.CCRCPositive && a.Class != zvt.CCRCNegative {
				p.reply(ctx, s, zvt.Nack(zvt.ResultSystemError))
			}
		}
	}()
	p.handle(ctx, s, a)
}

// handle processes one message from the ECR on line s.
func (p *PT) handle(ctx context.Context, s *session, a zvt.APDU) {
	if a.Class == zvt.CCRCPositive || a.Class == zvt.CCRCNegative {
		select {
		case s.resp <- a:
		default:
			p.log.Warn("ECR response nobody waits for; dropped", "apdu", a.String())
		}
		return
	}
	if p.ctx.Err() != nil {
		p.reply(ctx, s, zvt.Nack(zvt.ResultReceiverNotReady)) // stopping
		return
	}
	cmd, err := zvt.ParseCommand(a)
	if err != nil {
		resp := zvt.ResponseForError(err)
		p.log.Warn("refusing ECR command", "apdu", a.String(), "err", err, "answer", fmt.Sprintf("%02X %02X", resp.Class, resp.Instr))
		p.reply(ctx, s, resp)
		return
	}
	p.log.Info("ECR command", "msg", zvt.ControlName(a.Control()), "apdu", a.String(), "session", s.id)
	if !p.passwordOK(cmd) {
		// Never logged: neither the password sent nor the one configured.
		p.log.Warn("refusing ECR command: wrong ZVT password; answering 84 83 00", "msg", zvt.ControlName(a.Control()))
		p.reply(ctx, s, zvt.Nack(zvt.ResultFunctionNotPossible))
		return
	}
	if p.answerAtOnce(ctx, s, cmd) {
		return
	}
	p.dispatch(ctx, s, cmd, a)
}

// answerAtOnce answers the commands that need no job: abort and log-off, and
// those refused on their face (an authorisation without amount, a
// registration in another currency). It reports whether cmd was answered.
func (p *PT) answerAtOnce(ctx context.Context, s *session, cmd zvt.Command) bool {
	switch c := cmd.(type) {
	case zvt.AbortRequest:
		p.onAbort(ctx, s)
		return true
	case zvt.LogOff:
		p.mu.Lock()
		p.registered, p.reg = false, registration{configByte: zvt.ConfigAfterLogOff}
		p.mu.Unlock()
		p.saveRegistration(ctx, "")
		p.reply(ctx, s, zvt.Ack())
		return true
	case zvt.Authorization:
		if c.Amount == nil {
			p.log.Warn("refusing authorisation without amount (BMP 04)")
			p.reply(ctx, s, zvt.Nack(zvt.ResultProtocolError))
			return true
		}
	case zvt.Registration:
		if c.Currency != 0 && c.Currency != p.numeric {
			p.log.Warn("refusing registration in another currency", "ecr_currency", c.Currency, "terminal_currency", p.term.Currency.Code)
			p.reply(ctx, s, zvt.NackCurrency(p.numeric))
			return true
		}
		if _, err := newRegistration(c); err != nil {
			p.log.Warn("refusing registration with a malformed TLV container", "err", err)
			p.reply(ctx, s, zvt.Nack(zvt.ResultProtocolError))
			return true
		}
	}
	return false
}

// dispatch starts the job of cmd, unless a job runs: then the very same
// request re-attaches to it and anything else gets 84 A0 (receiver not ready).
func (p *PT) dispatch(ctx context.Context, s *session, cmd zvt.Command, a zvt.APDU) {
	raw, _ := a.Encode()
	p.mu.Lock()
	if j := p.job; j != nil && j.completing {
		// The job only waits for the answer to its completion: the ECR is
		// master again, and this command is its next one.
		p.job = nil
		close(j.released)
	}
	if j := p.job; j != nil {
		same := j.pay != nil && bytes.Equal(j.pay.raw, raw)
		p.mu.Unlock()
		if same {
			p.reattach(ctx, s, j)
			return
		}
		p.log.Warn("ECR command while the PT is busy; answering 84 A0 (receiver not ready)", "msg", zvt.ControlName(a.Control()), "busy_with", j.kind)
		p.reply(ctx, s, zvt.Nack(zvt.ResultReceiverNotReady))
		return
	}
	p.startCommand(s, cmd, a, raw)
	p.mu.Unlock()
}

// startCommand starts the job of cmd on line s; p.mu must be held and no job
// be running.
func (p *PT) startCommand(s *session, cmd zvt.Command, a zvt.APDU, raw []byte) {
	switch c := cmd.(type) {
	case zvt.Registration:
		reg, _ := newRegistration(c) // checked by answerAtOnce
		p.registered, p.reg = true, reg
		p.startJob(s, "registration", nil, func(ctx context.Context, j *job) {
			p.saveRegistration(ctx, reg.String())
			j.runRegistration(ctx, c, reg)
		})
	case zvt.StatusEnquiry:
		p.startJob(s, "status enquiry", nil, func(ctx context.Context, j *job) { j.runStatusEnquiry(ctx, c) })
	case zvt.EndOfDay:
		p.startJob(s, "end-of-day", nil, func(ctx context.Context, j *job) { j.runEndOfDay(ctx, c) })
	case zvt.SendTotals:
		p.startJob(s, "send turnover totals", nil, func(ctx context.Context, j *job) { j.runSendTotals(ctx) })
	case zvt.RepeatReceipt:
		p.startJob(s, "repeat receipt", nil, func(ctx context.Context, j *job) { j.runRepeatReceipt(ctx, c) })
	case zvt.Authorization, zvt.Reversal, zvt.Refund:
		if last := p.last; last != nil && !last.acked && last.orderNo != "" && bytes.Equal(last.raw, raw) {
			// The result of this very request never reached the ECR:
			// give it that result, never a second payment.
			p.startJob(s, "payment", last, func(ctx context.Context, j *job) { j.runReplay(ctx) })
			return
		}
		pj := &payJob{raw: raw, maxWaits: -1}
		p.startJob(s, "payment", pj, func(ctx context.Context, j *job) { j.runPayment(ctx, cmd, a) })
	}
}

// onAbort answers 06 B0 and passes it to a running payment.
func (p *PT) onAbort(ctx context.Context, s *session) {
	p.reply(ctx, s, zvt.Ack())
	p.mu.Lock()
	j := p.job
	p.mu.Unlock()
	if j == nil || j.pay == nil {
		p.log.Info("ECR abort with no payment running; nothing to abort")
		return
	}
	select {
	case j.abortReq <- struct{}{}:
	default:
	}
}

// reattach connects a re-sent request to the payment already running for it.
func (p *PT) reattach(ctx context.Context, s *session, j *job) {
	p.reply(ctx, s, zvt.Ack())
	p.mu.Lock()
	ok := p.job == j
	if ok {
		j.sess = s
		j.reattached = true
		j.signal()
	}
	orderNo := j.pay.orderNo
	p.mu.Unlock()
	if !ok {
		return
	}
	p.log.Info("ECR sent the same request again; attached to the running payment", "merchant_order_no", orderNo, "session", s.id)
	if orderNo != "" {
		p.note(ctx, orderNo, "the ECR sent the same request again; it gets this payment's result (no second payment)")
	}
}

// wantStatus reports whether the ECR asked for Intermediate Status (config
// byte bit 08 at registration).
func (p *PT) wantStatus() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.registered && p.reg.configByte&zvt.ConfigIntermediateStatus != 0
}

// note appends a protocol fact to a payment's journal; failures are logged.
func (p *PT) note(ctx context.Context, orderNo, detail string) {
	if err := p.mem.Note(context.WithoutCancel(ctx), orderNo, noteKind, detail); err != nil {
		p.log.Warn("journal note failed", "merchant_order_no", orderNo, "err", err)
	}
}

// alert sets a payment's alert; failures are logged.
func (p *PT) alert(ctx context.Context, orderNo, text string) {
	if _, err := p.ag.SetAlert(context.WithoutCancel(ctx), orderNo, text); err != nil {
		p.log.Error("setting payment alert failed", "merchant_order_no", orderNo, "alert", text, "err", err)
	}
}

// waitFinal waits until a payment is final or ctx ends.
func (p *PT) waitFinal(ctx context.Context, orderNo string) (agent.Payment, bool) {
	for {
		pay, err := p.ag.Wait(ctx, orderNo, time.Minute)
		if err == nil && pay.Final() {
			return pay, true
		}
		if ctx.Err() != nil {
			return pay, false
		}
		if err != nil {
			p.log.Warn("waiting for payment", "merchant_order_no", orderNo, "err", err)
			t := p.clock.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return pay, false
			case <-t.C():
			}
		}
	}
}

// passwordOK checks the ZVT password of the commands that carry one against
// Config.Password (PA00P015 §1.2); without a configured password every
// password passes, and so does a Status Enquiry sent without one (its
// password is optional, §2.56.1).
func (p *PT) passwordOK(cmd zvt.Command) bool {
	if p.cfg.Password == "" {
		return true
	}
	var pw string
	switch c := cmd.(type) {
	case zvt.Registration:
		pw = c.Password
	case zvt.Reversal:
		pw = c.Password
	case zvt.Refund:
		pw = c.Password
	case zvt.EndOfDay:
		pw = c.Password
	case zvt.SendTotals:
		pw = c.Password
	case zvt.RepeatReceipt:
		pw = c.Password
	case zvt.StatusEnquiry:
		if c.Password == "" {
			return true
		}
		pw = c.Password
	default:
		return true // 06 01, 06 02, 06 B0 carry no password
	}
	return subtle.ConstantTimeCompare([]byte(pw), []byte(p.cfg.Password)) == 1
}
