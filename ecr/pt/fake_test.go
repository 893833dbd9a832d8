package pt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
)

// fakeAgent is an in-memory agent for protocol tests inside synctest
// bubbles: payments finish after Delay with the outcome Decide picks. It is
// the PT's Memory too.
type fakeAgent struct {
	reg *device.Registry

	mu       sync.Mutex
	pays     map[string]*agent.Payment
	order    []string
	notes    map[string][]string
	counters map[string]int64
	subs     map[int]func(agent.Event)
	nextSub  int
	creates  map[string]int
	settings map[string]string
	batch    int64            // the open batch's number
	batchOf  map[string]int64 // the batch each approved payment went into

	// Delay is how long a payment takes on the terminal (default 3 s).
	Delay time.Duration
	// Decide returns the final state and error code of a payment.
	Decide func(r agent.CreateRequest) (state, code string)
	// Cancellable reports whether Cancel succeeds (default: while not final).
	Cancellable func(p agent.Payment) bool
	// OnCreate runs at the start of Create (tests make it panic).
	OnCreate func(r agent.CreateRequest)
	// BatchErr is returned by BatchClose when set.
	BatchErr error
	// ReceiptErr is returned by Receipt when set.
	ReceiptErr error
}

func newFakeAgent(t testing.TB) *fakeAgent {
	t.Helper()
	reg, err := device.NewRegistry([]device.Terminal{
		{SN: "TERMEUR00001", Lane: "1", Currency: money.MustCurrency("EUR")},
		{SN: "TERMJPY00002", Lane: "2", Currency: money.MustCurrency("JPY")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeAgent{reg: reg, pays: map[string]*agent.Payment{}, notes: map[string][]string{},
		counters: map[string]int64{}, subs: map[int]func(agent.Event){}, creates: map[string]int{}, batch: 1, batchOf: map[string]int64{}}
}

func (f *fakeAgent) publish(p agent.Payment) {
	f.mu.Lock()
	subs := make([]func(agent.Event), 0, len(f.subs))
	for _, s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s(agent.Event{Payment: &p})
	}
}

func (f *fakeAgent) Create(_ context.Context, r agent.CreateRequest) (agent.Payment, error) {
	if f.OnCreate != nil {
		f.OnCreate(r)
	}
	t, err := f.reg.Lookup(r.TerminalSN)
	if err != nil {
		return agent.Payment{}, &agent.FieldError{Field: "terminal_sn", Msg: "unknown"}
	}
	if r.Currency != t.Currency.Code {
		return agent.Payment{}, &agent.FieldError{Field: "currency", Msg: "wrong"}
	}
	f.mu.Lock()
	f.creates[r.MerchantOrderNo]++
	if p, ok := f.pays[r.MerchantOrderNo]; ok {
		f.mu.Unlock()
		return *p, nil
	}
	if r.OrigMerchantOrderNo != "" {
		o, ok := f.pays[r.OrigMerchantOrderNo]
		if !ok || o.State != agent.StateApproved {
			f.mu.Unlock()
			return agent.Payment{}, &agent.FieldError{Field: "orig_merchant_order_no", Msg: "not approved"}
		}
	}
	now := time.Now()
	p := &agent.Payment{MerchantOrderNo: r.MerchantOrderNo, Type: r.Type, State: agent.StateQueued, Source: r.Source,
		TerminalSN: r.TerminalSN, Amount: r.Amount, Currency: r.Currency, TipAmount: "0.00", OrigMerchantOrderNo: r.OrigMerchantOrderNo,
		Description: r.Description, CreatedAt: now, UpdatedAt: now}
	f.pays[r.MerchantOrderNo] = p
	f.order = append(f.order, r.MerchantOrderNo)
	delay := f.Delay
	if delay == 0 {
		delay = 3 * time.Second
	}
	view := *p
	f.mu.Unlock()
	f.publish(view)
	time.AfterFunc(delay/3, func() { f.move(r.MerchantOrderNo, agent.StateOnTerminal, "") })
	time.AfterFunc(delay, func() {
		state, code := agent.StateApproved, ""
		if f.Decide != nil {
			state, code = f.Decide(r)
		}
		f.move(r.MerchantOrderNo, state, code)
	})
	return view, nil
}

// move changes a payment's state unless it is final.
func (f *fakeAgent) move(no, state, code string) {
	f.mu.Lock()
	p := f.pays[no]
	if p == nil || p.Final() {
		f.mu.Unlock()
		return
	}
	p.State, p.UpdatedAt = state, time.Now()
	if state == agent.StateApproved {
		p.Card = &agent.Card{Brand: "VISA", MaskedPAN: "476173******0119", EntryMode: "chip"}
		p.AuthCode = "A1B2C3"
		f.batchOf[no] = f.batch
	}
	if code != "" {
		p.Error = &agent.PaymentError{Code: code, Message: "declined by issuer"}
	}
	view := *p
	f.mu.Unlock()
	f.publish(view)
}

func (f *fakeAgent) Get(_ context.Context, no string) (agent.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pays[no]
	if !ok {
		return agent.Payment{}, fmt.Errorf("%w: %s", agent.ErrNotFound, no)
	}
	return *p, nil
}

func (f *fakeAgent) Wait(ctx context.Context, no string, timeout time.Duration) (agent.Payment, error) {
	ch := make(chan struct{}, 1)
	unsub := f.Subscribe(func(e agent.Event) {
		if e.Payment != nil && e.Payment.MerchantOrderNo == no && e.Payment.Final() {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if p, err := f.Get(ctx, no); err != nil || p.Final() {
		return p, err
	}
	select {
	case <-ch:
	case <-time.After(timeout):
	case <-ctx.Done():
	}
	return f.Get(context.Background(), no)
}

func (f *fakeAgent) Cancel(_ context.Context, no string) (agent.Payment, error) {
	f.mu.Lock()
	p, ok := f.pays[no]
	if !ok {
		f.mu.Unlock()
		return agent.Payment{}, agent.ErrNotFound
	}
	can := !p.Final()
	if f.Cancellable != nil {
		can = can && f.Cancellable(*p)
	}
	f.mu.Unlock()
	if !can {
		return agent.Payment{}, fmt.Errorf("%w: %s is being processed", agent.ErrNotCancellable, no)
	}
	f.move(no, agent.StateCancelled, "")
	return f.Get(context.Background(), no)
}

func (f *fakeAgent) List(_ context.Context, flt agent.ListFilter) ([]agent.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.Payment
	for i := len(f.order) - 1; i >= 0; i-- {
		p := f.pays[f.order[i]]
		if flt.TerminalSN != "" && p.TerminalSN != flt.TerminalSN {
			continue
		}
		out = append(out, *p)
		if flt.Limit > 0 && len(out) == flt.Limit {
			break
		}
	}
	return out, nil
}

func (f *fakeAgent) BatchGet(_ context.Context, sn string) (agent.BatchReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return agent.BatchReport{TerminalSN: sn, BatchNo: f.batch, State: "open"}, nil
}

func (f *fakeAgent) BatchClose(_ context.Context, sn, by string) (agent.BatchReport, error) {
	if f.BatchErr != nil {
		return agent.BatchReport{}, f.BatchErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batch++
	return agent.BatchReport{TerminalSN: sn, BatchNo: f.batch - 1, ClosedBy: by}, nil
}

// BatchPayments returns the approved payments of one batch, oldest first,
// like the journal.
func (f *fakeAgent) BatchPayments(_ context.Context, sn string, no int64) ([]agent.Payment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.Payment
	for _, o := range f.order {
		if p := f.pays[o]; p.TerminalSN == sn && p.State == agent.StateApproved && f.batchOf[o] == no {
			out = append(out, *p)
		}
	}
	return out, nil
}

// Receipt lays a fake payment out as the agent would (the fields the PT's
// print lines show); a payment that is not final has none.
func (f *fakeAgent) Receipt(_ context.Context, no string, c receipt.Copy) (receipt.Receipt, error) {
	if f.ReceiptErr != nil {
		return receipt.Receipt{}, f.ReceiptErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pays[no]
	if !ok {
		return receipt.Receipt{}, fmt.Errorf("%w: %s", agent.ErrNotFound, no)
	}
	if !p.Final() {
		return receipt.Receipt{}, fmt.Errorf("%w for payment %s: it is %s", agent.ErrNoReceipt, no, p.State)
	}
	cur := money.MustCurrency(p.Currency)
	r := receipt.Receipt{Copy: c, Kind: p.Type, Method: "card", Result: p.State, MerchantName: "Corner Bakery",
		TerminalSN: p.TerminalSN, MerchantOrderNo: p.MerchantOrderNo, OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		AuthCode: p.AuthCode, At: p.UpdatedAt.UTC(), Currency: cur, Amount: f.minor(p.Amount, p.Currency), Footer: []string{"Thank you"}}
	if p.Card != nil {
		r.Brand, r.MaskedPAN, r.EntryMode = p.Card.Brand, p.Card.MaskedPAN, p.Card.EntryMode
	}
	if p.Error != nil {
		r.ResultText = p.Error.Message
	}
	return r, nil
}

func (f *fakeAgent) Note(_ context.Context, no, kind, detail string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.pays[no]; !ok {
		return agent.ErrNotFound
	}
	f.notes[no] = append(f.notes[no], kind+": "+detail)
	return nil
}

func (f *fakeAgent) Setting(_ context.Context, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings[key], nil
}

func (f *fakeAgent) SetSetting(_ context.Context, key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settings == nil {
		f.settings = map[string]string{}
	}
	f.settings[key] = value
	return nil
}

func (f *fakeAgent) Notes(_ context.Context, no, kind string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.notes[no] {
		if d, ok := strings.CutPrefix(n, kind+": "); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeAgent) SetAlert(_ context.Context, no, alert string) (agent.Payment, error) {
	f.mu.Lock()
	p, ok := f.pays[no]
	if !ok {
		f.mu.Unlock()
		return agent.Payment{}, agent.ErrNotFound
	}
	p.Alert = alert
	view := *p
	f.mu.Unlock()
	f.publish(view)
	return view, nil
}

func (f *fakeAgent) NextCounter(_ context.Context, name string, _ int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters[name]++
	return f.counters[name], nil
}

func (f *fakeAgent) Counter(_ context.Context, name string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters[name], nil
}

// LatestOriginal is the newest payment matching q, like the journal's
// indexed look-up.
func (f *fakeAgent) LatestOriginal(_ context.Context, q agent.OriginalQuery) (agent.Original, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.order) - 1; i >= 0; i-- {
		p := f.pays[f.order[i]]
		if p.TerminalSN != q.TerminalSN || p.Type != q.Type || !strings.HasPrefix(p.MerchantOrderNo, q.OrderNoPrefix) {
			continue
		}
		o := agent.Original{Payment: *p, AmountMinor: f.minor(p.Amount, p.Currency)}
		for j := len(f.order) - 1; j >= 0; j-- {
			v := f.pays[f.order[j]]
			if v.Type == agent.TypeVoid && v.OrigMerchantOrderNo == p.MerchantOrderNo && (v.State == agent.StateApproved || !v.Final()) {
				o.VoidedBy = v.MerchantOrderNo
				break
			}
		}
		return o, nil
	}
	return agent.Original{}, fmt.Errorf("%w: %s", agent.ErrNotFound, q.OrderNoPrefix)
}

// CheckOriginal applies the agent's rules the ZVT tests rely on: an approved
// original, a void for its amount, a refund up to it.
func (f *fakeAgent) CheckOriginal(_ context.Context, c agent.OriginalCheck) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.pays[c.Orig]
	switch {
	case !ok:
		return nil
	case o.State != agent.StateApproved:
		return &agent.FieldError{Field: "orig_merchant_order_no", Msg: "not approved"}
	case c.Type == agent.TypeVoid && c.Amount != f.minor(o.Amount, o.Currency):
		return &agent.FieldError{Field: "amount", Msg: "a void must be for the original amount"}
	case c.Type == agent.TypeRefund && c.Amount > f.minor(o.Amount, o.Currency):
		return &agent.FieldError{Field: "amount", Msg: "refund exceeds the original amount"}
	}
	return nil
}

// minor converts a fake payment's amount (as Create got it) to minor units.
func (f *fakeAgent) minor(amount, currency string) int64 {
	v, err := money.Parse(amount, money.MustCurrency(currency))
	if err != nil {
		panic(err)
	}
	return v
}

func (f *fakeAgent) Subscribe(fn func(agent.Event)) func() {
	f.mu.Lock()
	f.nextSub++
	id := f.nextSub
	f.subs[id] = fn
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

func (f *fakeAgent) Registry() *device.Registry { return f.reg }

// payments returns every payment, oldest first.
func (f *fakeAgent) payments() []agent.Payment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]agent.Payment, 0, len(f.order))
	for _, no := range f.order {
		out = append(out, *f.pays[no])
	}
	return out
}

func (f *fakeAgent) createCount(no string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates[no]
}

func (f *fakeAgent) notesOf(no string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.notes[no]...)
}

// memLine is an in-memory zvt.Transport: the PT end of a line whose other
// end is the test (the ECR).
type memLine struct {
	toPT   chan zvt.APDU
	toECR  chan zvt.APDU
	closed chan struct{}
	once   sync.Once
}

func newMemLine() *memLine {
	return &memLine{toPT: make(chan zvt.APDU, 64), toECR: make(chan zvt.APDU, 256), closed: make(chan struct{})}
}

func (m *memLine) ReadAPDU(ctx context.Context) (zvt.APDU, error) {
	select {
	case a := <-m.toPT:
		return a, nil
	case <-ctx.Done():
		return zvt.APDU{}, ctx.Err()
	case <-m.closed:
		return zvt.APDU{}, zvt.ErrClosed
	}
}

func (m *memLine) WriteAPDU(ctx context.Context, a zvt.APDU) error {
	select {
	case <-m.closed:
		return zvt.ErrClosed
	default:
	}
	select {
	case m.toECR <- a:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.closed:
		return zvt.ErrClosed
	}
}

func (m *memLine) close() { m.once.Do(func() { close(m.closed) }) }

// ecr is the test's end of a memLine.
type ecr struct {
	t testing.TB
	l *memLine
}

func (e ecr) send(a zvt.APDU) { e.l.toPT <- a }

// next returns the PT's next message; inside a bubble the time-out only
// advances when everything else is blocked.
func (e ecr) next() zvt.APDU {
	e.t.Helper()
	select {
	case a := <-e.l.toECR:
		return a
	case <-time.After(10 * time.Minute):
		e.t.Fatal("the PT sent nothing for 10 minutes")
		return zvt.APDU{}
	}
}

// none asserts the PT sends nothing for d.
func (e ecr) none(d time.Duration) {
	e.t.Helper()
	select {
	case a := <-e.l.toECR:
		e.t.Fatalf("the PT sent %s, want nothing", a)
	case <-time.After(d):
	}
}

func (e ecr) ack() { e.send(zvt.Ack()) }

// expect reads the next message and checks its control field.
func (e ecr) expect(ctrl uint16) zvt.APDU {
	e.t.Helper()
	a := e.next()
	if a.Control() != ctrl {
		e.t.Fatalf("PT sent %s (%s), want %s", a, zvt.ControlName(a.Control()), zvt.ControlName(ctrl))
	}
	return a
}

// run follows a command to its end like a well-behaved ECR and returns the
// PT's messages after its first answer.
func (e ecr) run(cmd zvt.APDU) (zvt.APDU, []zvt.APDU) {
	e.t.Helper()
	e.send(cmd)
	first := e.next()
	if first.Class != zvt.CCRCPositive {
		return first, nil
	}
	var msgs []zvt.APDU
	for {
		m := e.next()
		msgs = append(msgs, m)
		if m.Class == zvt.CCRCPositive || m.Class == zvt.CCRCNegative {
			continue
		}
		e.ack()
		if c := m.Control(); c == zvt.CtrlCompletion || c == zvt.CtrlAbort {
			return first, msgs
		}
	}
}

func statusOf(t testing.TB, msgs []zvt.APDU) zvt.StatusInformation {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Control() == zvt.CtrlStatusInformation {
			var si zvt.StatusInformation
			if err := si.Decode(msgs[i]); err != nil {
				t.Fatalf("decode 04 0F: %v", err)
			}
			return si
		}
	}
	t.Fatalf("no status information in %v", msgs)
	return zvt.StatusInformation{}
}

func controls(msgs []zvt.APDU) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%02X %02X", m.Class, m.Instr)
	}
	return out
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("POSBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// harness is a PT on a fake agent with one in-memory line, inside a bubble.
type harness struct {
	t    *testing.T
	ag   *fakeAgent
	pt   *PT
	line *memLine
	ecr  ecr
	stop func()
}

func newHarness(t *testing.T, sn string, tweak func(*Config)) *harness {
	t.Helper()
	ag := newFakeAgent(t)
	cfg := Config{Name: "ecr0", TerminalSN: sn, Agent: ag, Memory: ag, Logger: testLogger(t), Location: time.UTC}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	line := newMemLine()
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Serve(ctx) })
	wg.Go(func() { _ = p.Session(ctx, line, false) })
	h := &harness{t: t, ag: ag, pt: p, line: line, ecr: ecr{t: t, l: line}}
	h.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(h.stop)
	return h
}

// settled waits until every goroutine of the bubble is blocked and checks
// that the PT has no job left.
func (h *harness) settled() {
	h.t.Helper()
	synctest.Wait()
	h.pt.mu.Lock()
	busy := h.pt.job != nil
	h.pt.mu.Unlock()
	if busy {
		h.t.Fatal("PT still busy")
	}
}

// paymentsOfType returns the fake agent's payments of one type, oldest first.
func (h *harness) paymentsOfType(typ string) []agent.Payment {
	var out []agent.Payment
	for _, p := range h.ag.payments() {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

var errBoom = errors.New("boom")
