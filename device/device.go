// Package device is the terminal registry: the CodePay terminals posbridge
// drives, by serial number and lane, with their last known online state, whether
// a payment is on them, how many wait in their queue, and whether CodePay
// itself can be reached (the same for every terminal).
//
// It is a leaf package: no I/O to providers, no storage. The agent owns the
// registry and updates it as payments move.
package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/posbridge/posbridge/money"
)

// Sentinel errors.
var (
	// ErrUnknownTerminal means no configured terminal has that SN or lane.
	ErrUnknownTerminal = errors.New("unknown terminal")
)

// Terminal is a configured CodePay terminal.
type Terminal struct {
	SN       string
	Lane     string
	Name     string
	Currency money.Currency
}

// Status is a terminal as the cashier and the store manager see it.
type Status struct {
	SN             string `json:"sn"`
	Lane           string `json:"lane"`
	Name           string `json:"name"`
	Currency       string `json:"currency"`
	Online         bool   `json:"online"`
	OnlineKnown    bool   `json:"online_known"`
	Busy           bool   `json:"busy"`
	QueueDepth     int    `json:"queue_depth"`
	CurrentOrderNo string `json:"current_order_no"`
	// CodePay is whether the agent's calls reach the CodePay cloud. Every
	// terminal shows the same value: they share one connection to CodePay.
	CodePay CodePayLink `json:"codepay"`
}

// CodePayLink is how the agent's calls to the CodePay cloud fare. A call
// reached CodePay when it got a trusted, signed answer (success or refusal);
// it failed when nothing trustworthy came back (connection refused, timeout,
// HTTP error without a signed answer, bad signature).
type CodePayLink struct {
	// Known is false until the first call reached CodePay or failed.
	Known     bool
	Reachable bool
	// LastSuccessAt and LastFailureAt are zero until the first such call.
	LastSuccessAt time.Time
	LastFailureAt time.Time
	// UnreachableSince is the first failure of the current run of failures
	// (zero while reachable).
	UnreachableSince    time.Time
	ConsecutiveFailures int
	// LastError is the last failure, one line, without card data.
	LastError string
}

// codePayJSON is the wire form of CodePayLink: unknown values are null.
type codePayJSON struct {
	Reachable           *bool      `json:"reachable"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	UnreachableSince    *time.Time `json:"unreachable_since"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func timeOf(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// MarshalJSON writes reachable as null until it is known, and each time as
// null until it happened.
func (l CodePayLink) MarshalJSON() ([]byte, error) {
	w := codePayJSON{
		LastSuccessAt: timePtr(l.LastSuccessAt), LastFailureAt: timePtr(l.LastFailureAt),
		UnreachableSince: timePtr(l.UnreachableSince), ConsecutiveFailures: l.ConsecutiveFailures, LastError: l.LastError,
	}
	if l.Known {
		r := l.Reachable
		w.Reachable = &r
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *CodePayLink) UnmarshalJSON(b []byte) error {
	var w codePayJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decode codepay link: %w", err)
	}
	*l = CodePayLink{
		Known: w.Reachable != nil, LastSuccessAt: timeOf(w.LastSuccessAt), LastFailureAt: timeOf(w.LastFailureAt),
		UnreachableSince: timeOf(w.UnreachableSince), ConsecutiveFailures: w.ConsecutiveFailures, LastError: w.LastError,
	}
	if w.Reachable != nil {
		l.Reachable = *w.Reachable
	}
	return nil
}

// Registry holds the configured terminals and their live state. It is safe for
// concurrent use.
type Registry struct {
	mu     sync.RWMutex
	order  []string
	bySN   map[string]*Status // CodePay is left zero here and filled from link on the way out
	terms  map[string]Terminal
	byLane map[string]string
	link   CodePayLink
}

// NewRegistry builds a registry; SNs and lanes must be unique.
func NewRegistry(ts []Terminal) (*Registry, error) {
	r := &Registry{bySN: map[string]*Status{}, terms: map[string]Terminal{}, byLane: map[string]string{}}
	for _, t := range ts {
		if t.SN == "" {
			return nil, fmt.Errorf("add terminal: empty SN")
		}
		if _, dup := r.terms[t.SN]; dup {
			return nil, fmt.Errorf("add terminal %s: duplicate SN", t.SN)
		}
		if t.Lane != "" {
			if other, dup := r.byLane[t.Lane]; dup {
				return nil, fmt.Errorf("add terminal %s: lane %q already used by %s", t.SN, t.Lane, other)
			}
			r.byLane[t.Lane] = t.SN
		}
		r.terms[t.SN] = t
		r.order = append(r.order, t.SN)
		r.bySN[t.SN] = &Status{SN: t.SN, Lane: t.Lane, Name: t.Name, Currency: t.Currency.Code}
	}
	return r, nil
}

// Lookup finds a terminal by SN.
func (r *Registry) Lookup(sn string) (Terminal, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.terms[sn]
	if !ok {
		return Terminal{}, fmt.Errorf("%w %q", ErrUnknownTerminal, sn)
	}
	return t, nil
}

// ByLane finds a terminal by lane.
func (r *Registry) ByLane(lane string) (Terminal, error) {
	r.mu.RLock()
	sn, ok := r.byLane[lane]
	r.mu.RUnlock()
	if !ok {
		return Terminal{}, fmt.Errorf("%w: no terminal on lane %q", ErrUnknownTerminal, lane)
	}
	return r.Lookup(sn)
}

// Terminals returns the configured terminals in configuration order.
func (r *Registry) Terminals() []Terminal {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Terminal, 0, len(r.order))
	for _, sn := range r.order {
		out = append(out, r.terms[sn])
	}
	return out
}

// Update applies fn to the terminal's status and reports whether anything changed.
func (r *Registry) Update(sn string, fn func(*Status)) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.bySN[sn]
	if !ok {
		return Status{}, false
	}
	before := *s
	fn(s)
	s.CodePay = CodePayLink{}
	return r.withLink(*s), before != *s
}

// withLink fills in the shared CodePay link; r.mu must be held.
func (r *Registry) withLink(s Status) Status {
	s.CodePay = r.link
	return s
}

// SetCodePay records how calls to CodePay fare, for every terminal, and
// reports whether that changed anything.
func (r *Registry) SetCodePay(l CodePayLink) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := r.link != l
	r.link = l
	return changed
}

// SetOnline records the online state last reported by the cloud.
func (r *Registry) SetOnline(sn string, online bool) (Status, bool) {
	return r.Update(sn, func(s *Status) { s.Online, s.OnlineKnown = online, true })
}

// Status returns one terminal's status.
func (r *Registry) Status(sn string) (Status, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.bySN[sn]
	if !ok {
		return Status{}, fmt.Errorf("%w %q", ErrUnknownTerminal, sn)
	}
	return r.withLink(*s), nil
}

// Statuses returns every terminal's status, sorted by lane then SN.
func (r *Registry) Statuses() []Status {
	r.mu.RLock()
	out := make([]Status, 0, len(r.bySN))
	for _, sn := range r.order {
		out = append(out, r.withLink(*r.bySN[sn]))
	}
	r.mu.RUnlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Lane < out[j].Lane })
	return out
}
