package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/store"
)

// The fault matrix (docs/reliability.md): one case per fault, each with a
// payment at the fault (P1), one queued behind it on the same terminal (P2)
// and one created after the fault (P3). It runs the real agent, the real
// CodePay client, the CodePay emulator over an in-memory network and a real
// SQLite journal inside a testing/synctest bubble, so the agent's production
// timing (poll 2 s, settle 5 s, client timeout 15 s, expires 180 s) plays out
// in virtual time, exactly and quickly.
//
// Every case must end with: every payment final and equal to the cloud's
// order; at most one create accepted per order; the lane free within 15 s of
// the fault's end (P1 out of sending/unknown); each payment final within 15 s
// of the later of the fault's end and the cloud finishing it; the queued
// payment served.

// laneBound is the promise: a lane is free again within 15 s after
// CodePay answers normally again.
const laneBound = 15 * time.Second

type faultCase struct {
	name string
	// inject starts the fault before P1 and P2 are created; nil: none.
	inject func(f *faultFixture)
	// during runs after P1 and P2 were created and returns when the fault is
	// over, with the time it ended (when CodePay answered normally again).
	during func(f *faultFixture) time.Time
}

// oneShot injects count faults of kind on method and ends when the last of
// them has been used and its request's exchange is over.
func oneShot(method string, kind codepaysim.FaultKind, count int) faultCase {
	return faultCase{
		name: fmt.Sprintf("%s on %s", kind, method),
		inject: func(f *faultFixture) {
			f.e.Sim.InjectFault(codepaysim.Fault{Method: method, Kind: kind, Count: count, Delay: time.Minute})
		},
		during: func(f *faultFixture) time.Time {
			var last codepaysim.Request
			f.waitFor("the injected faults to be used", func() bool {
				n := 0
				for _, r := range f.e.Sim.Requests(method, "") {
					if r.Fault == kind {
						n, last = n+1, r
					}
				}
				return n == count
			})
			end := f.e.Local(last.Time)
			switch kind {
			case codepaysim.FaultHang, codepaysim.FaultSlow:
				end = end.Add(codepay.DefaultHTTPTimeout) // the client gives up
			case codepaysim.FaultProcessLate:
				end = end.Add(time.Minute) // the held request reaches CodePay
			}
			f.sleepUntil(end)
			return end
		},
	}
}

func faultCases() []faultCase {
	const create, query = codepay.MethodPayOrder, codepay.MethodOrderQuery
	cases := []faultCase{
		oneShot(create, codepaysim.FaultHTTP500, 1),
		oneShot(create, codepaysim.FaultHTTP500AfterProcess, 1),
		oneShot(create, codepaysim.FaultHTTP429, 1),
		oneShot(create, codepaysim.FaultHTTP429AfterProcess, 1),
		oneShot(create, codepaysim.FaultDrop, 1),
		oneShot(create, codepaysim.FaultDropAfterProcess, 1),
		oneShot(create, codepaysim.FaultHang, 1),
		oneShot(create, codepaysim.FaultProcessLate, 1), // arrives after the re-send
		oneShot(create, codepaysim.FaultSlow, 1),
		oneShot(create, codepaysim.FaultBadSignature, 1),
		oneShot(create, codepaysim.FaultUnsigned, 1),
		oneShot(query, codepaysim.FaultBadSignature, 5),
		oneShot(query, codepaysim.FaultUnsigned, 5),
		oneShot(query, codepaysim.FaultHTTP429, 5),
		{
			name: "cloud refuses connections for 30s",
			inject: func(f *faultFixture) {
				f.e.Net.SetRefusing(true)
			},
			during: func(f *faultFixture) time.Time {
				time.Sleep(30 * time.Second)
				f.e.Net.SetRefusing(false)
				return time.Now()
			},
		},
		{
			// A frozen gateway holds every request, then processes them
			// all when it resumes, long after the clients gave up.
			name: "cloud frozen for 30s",
			inject: func(f *faultFixture) {
				f.freeze.set(true)
			},
			during: func(f *faultFixture) time.Time {
				time.Sleep(30 * time.Second)
				f.freeze.set(false)
				return time.Now()
			},
		},
		{
			// The create's answer is lost, then the store PC's clock is 20
			// minutes off: every query is refused (signed) as outside the
			// timestamp window, which is no answer about the order.
			name: "clock skew while unknown",
			inject: func(f *faultFixture) {
				f.e.Sim.InjectFault(codepaysim.Fault{Method: create, Kind: codepaysim.FaultDropAfterProcess})
			},
			during: func(f *faultFixture) time.Time {
				f.waitFor("the create's answer to be lost", func() bool {
					return len(f.e.Sim.Requests(create, "P1")) > 0
				})
				f.e.SkewClientClock(20 * time.Minute)
				time.Sleep(60 * time.Second)
				f.e.SkewClientClock(0)
				return time.Now()
			},
		},
	}
	for _, wf := range []struct {
		name    string
		fault   store.WriteFault
		symptom string // SQLite's error, as the agent logs it
	}{
		{"disk full for 30s", store.DiskFull, "database or disk is full"},
		{"read-only journal for 30s", store.ReadOnly, "readonly database"},
	} {
		cases = append(cases, faultCase{
			name: wf.name,
			during: func(f *faultFixture) time.Time {
				ctx := context.Background()
				if err := f.e.DB.InjectWriteFault(ctx, wf.fault); err != nil {
					f.t.Fatal(err)
				}
				// The store keeps ringing up sales on the other lane: each
				// is either refused with an error (nothing journaled) or
				// durably accepted and served later. On a full disk they
				// use up the space left inside the journal's pages, so the
				// worker's own writes meet the fault too.
				var met []string
				for i := 0; i < 100; i++ {
					no := fmt.Sprintf("DURING%d", i)
					_, err := f.e.Agent.Create(ctx, f.e.Sale(no, agenttest.TermB, "4.00"))
					if err == nil {
						f.extra = append(f.extra, no)
						continue
					}
					met = append(met, err.Error())
					if _, gerr := f.e.DB.GetPayment(ctx, no); gerr == nil {
						f.t.Errorf("refused Create (%v) left a row in the journal", err)
					}
					break
				}
				if wf.fault == store.ReadOnly && len(f.extra) > 0 {
					f.t.Errorf("Create on a read-only journal succeeded: %v", f.extra)
				}
				time.Sleep(30 * time.Second)
				if err := f.e.DB.InjectWriteFault(ctx, store.NoWriteFault); err != nil {
					f.t.Fatal(err)
				}
				// The case proves nothing unless the agent met the fault.
				if !strings.Contains(f.logs.String()+strings.Join(met, "\n"), wf.symptom) {
					f.t.Errorf("the agent never met the fault: no %q in its logs", wf.symptom)
				}
				return time.Now()
			},
		})
	}
	return cases
}

func TestFaultMatrix(t *testing.T) {
	for _, fc := range faultCases() {
		t.Run(strings.ReplaceAll(fc.name, " ", "_"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runFaultCase(t, fc) })
		})
	}
}

// faultFixture is one case's environment and what it observed.
type faultFixture struct {
	t      *testing.T
	e      *agenttest.Env
	freeze *freezer
	extra  []string // payments accepted during the fault
	logs   agenttest.LogBuffer

	mu     sync.Mutex
	states map[string][]stateAt
}

type stateAt struct {
	state string
	at    time.Time
}

func runFaultCase(t *testing.T, fc faultCase) {
	f := &faultFixture{t: t, freeze: newFreezer(), states: map[string][]stateAt{}}
	f.e = agenttest.New(t, agenttest.Opts{
		InMemory: true, Middleware: f.freeze.wrap, Logs: &f.logs,
		Expires: 180 * time.Second, Poll: 2 * time.Second, CreateSettle: agent.DefaultCreateSettle,
		Pickup: 2 * time.Second, Process: 3 * time.Second, ProbeInterval: -1,
	})
	f.e.Agent.Subscribe(func(ev agent.Event) {
		if p := ev.Payment; p != nil {
			f.mu.Lock()
			f.states[p.MerchantOrderNo] = append(f.states[p.MerchantOrderNo], stateAt{p.State, time.Now()})
			f.mu.Unlock()
		}
	})
	if fc.inject != nil {
		fc.inject(f)
	}
	start := time.Now()
	f.e.MustCreate(f.e.Sale("P1", agenttest.TermA, "10.00"))
	f.e.MustCreate(f.e.Sale("P2", agenttest.TermA, "20.00"))
	end := fc.during(f)
	t.Logf("fault from %s to %s", time.Duration(0), end.Sub(start))
	f.e.MustCreate(f.e.Sale("P3", agenttest.TermA, "30.00"))

	orders := append([]string{"P1", "P2", "P3"}, f.extra...)
	for _, no := range orders {
		p, err := f.e.Agent.Wait(context.Background(), no, time.Hour)
		if err != nil || !p.Final() {
			t.Fatalf("%s not final an hour after the fault: %+v, %v\n%s", no, p, err, f.history(no))
		}
	}
	for _, no := range orders {
		f.checkAgainstCloud(no, end)
	}
	f.checkLaneFree("P1", end)
	if testing.Verbose() {
		for _, no := range orders {
			t.Logf("%s:\n%s", no, f.history(no))
		}
	}
}

// checkAgainstCloud: the local final state is the cloud's, at most one
// create was accepted, every payment here was approved (CodePay recovered in
// time for all of them), and the local result came within laneBound of the
// later of the fault's end and the cloud finishing the order.
func (f *faultFixture) checkAgainstCloud(no string, faultEnd time.Time) {
	t := f.t
	p, _ := f.e.Agent.Get(context.Background(), no)
	cloud, ok := f.e.Sim.Order(no)
	if !ok {
		t.Errorf("%s is %s locally but CodePay has no order\n%s", no, p.State, f.history(no))
		return
	}
	if got, want := p.State, localState(cloud); got != want {
		t.Errorf("%s is %s locally, the cloud's order is %d (%s): want %s\n%s", no, got, cloud.Status, cloud.ErrorCode, want, f.history(no))
	}
	if p.State != agent.StateApproved {
		t.Errorf("%s ended %s (%+v); CodePay recovered in time, it should be approved\n%s", no, p.State, p.Error, f.history(no))
	}
	if n := f.e.AcceptedCreates(no); n != 1 {
		t.Errorf("%s: CodePay accepted %d creates, want exactly 1", no, n)
	}
	final := f.finalAt(no)
	due := faultEnd
	if cloudFinal := f.e.Local(cloud.FinalAt); cloudFinal.After(due) {
		due = cloudFinal
	}
	if lag := final.Sub(due); lag > laneBound {
		t.Errorf("%s became final %s after CodePay could have told (fault end or cloud result): more than %s\n%s", no, lag, laneBound, f.history(no))
	}
}

// checkLaneFree: the payment at the fault left sending/unknown (reached the
// terminal or a final state) within laneBound of the fault's end.
func (f *faultFixture) checkLaneFree(no string, faultEnd time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stuck := false
	var freeAt time.Time
	for _, s := range f.states[no] {
		blocked := s.state == agent.StateSending || s.state == agent.StateUnknown || s.state == agent.StateQueued
		switch {
		case !s.at.After(faultEnd):
			stuck = blocked
		case stuck && !blocked && freeAt.IsZero():
			freeAt = s.at
		}
	}
	if !stuck {
		return // it was on the terminal or final when the fault ended
	}
	if freeAt.IsZero() || freeAt.Sub(faultEnd) > laneBound {
		f.t.Errorf("lane of %s not free within %s of the fault's end (free at %v after it)", no, laneBound, freeAt.Sub(faultEnd))
	}
}

// localState is the final state posbridge must show for a final cloud order.
func localState(o codepaysim.OrderView) string {
	switch o.Status {
	case codepay.StatusCompleted:
		return agent.StateApproved
	case codepay.StatusFailed:
		if strings.Contains(o.ErrorCode, "EXPIRE") {
			return agent.StateExpired
		}
		return agent.StateDeclined
	case codepay.StatusCancelled:
		return agent.StateCancelled
	}
	return fmt.Sprintf("(cloud order still at status %d)", o.Status)
}

func (f *faultFixture) finalAt(no string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.states[no] {
		if store.IsFinal(s.state) {
			return s.at
		}
	}
	return time.Time{}
}

func (f *faultFixture) history(no string) string {
	var b strings.Builder
	evs, _ := f.e.Agent.Events(context.Background(), no)
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %s→%s %s\n", e.At.Format("15:04:05.000"), e.Kind, e.FromState, e.ToState, e.Detail)
	}
	for _, r := range f.e.Sim.Requests("", no) {
		fmt.Fprintf(&b, "  cloud %s %s code=%q fault=%q\n", f.e.Local(r.Time).Format("15:04:05.000"), r.Method, r.Code, r.Fault)
	}
	return b.String()
}

// waitFor polls cond in virtual time.
func (f *faultFixture) waitFor(what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("waited 10 minutes for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *faultFixture) sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// freezer holds every request while frozen and lets them all through when
// it thaws, as a stalled gateway that resumes does.
type freezer struct {
	mu   sync.Mutex
	thaw chan struct{} // nil while not frozen
}

func newFreezer() *freezer { return &freezer{} }

func (z *freezer) set(frozen bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	switch {
	case frozen && z.thaw == nil:
		z.thaw = make(chan struct{})
	case !frozen && z.thaw != nil:
		close(z.thaw)
		z.thaw = nil
	}
}

func (z *freezer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		z.mu.Lock()
		thaw := z.thaw
		z.mu.Unlock()
		if thaw != nil {
			<-thaw // processed on resumption, even if the client gave up
		}
		h.ServeHTTP(w, r)
	})
}
