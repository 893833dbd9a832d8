package bindosim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/pan"
)

// Operations, as recorded in the request log and matched by faults and Count.
const (
	OpLogin  = "login"
	OpSale   = "sale"
	OpQuery  = "query"
	OpVoid   = "void"
	OpRefund = "refund"
	OpTips   = "tips"
	// OpPreCreate is the pay-by-link pre-create; OpLinkPage the hosted
	// payment page's read of its order (the JS SDK's "Get Options By Pay
	// Redirect URL").
	OpPreCreate = "precreate"
	OpLinkPage  = "link_page"
)

// FaultKind is a kind of injected fault.
type FaultKind string

// Fault kinds.
const (
	// FaultHTTP500 answers HTTP 500 without processing the request.
	FaultHTTP500 FaultKind = "http500"
	// FaultSlow processes the request, then waits Fault.Delay (real time)
	// before answering; a client that gives up first never sees the answer.
	FaultSlow FaultKind = "slow"
	// FaultDropAfterProcess processes the request, then closes the TCP
	// connection without any response: the unknown-outcome case.
	FaultDropAfterProcess FaultKind = "drop_after_process"
	// FaultHTTP401 answers HTTP 401 without processing the request, whatever
	// the token (the current token stays valid): "401 once".
	FaultHTTP401 FaultKind = "http401"
	// FaultProcessLate answers HTTP 502 at once without processing the
	// request, and processes it Fault.Delay later (real time), webhooks
	// included: a request held on the way (a proxy that retried it) that
	// reaches the gateway after the client gave up on it.
	FaultProcessLate FaultKind = "process_late"
)

// FaultKinds lists every kind.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultHTTP500, FaultSlow, FaultDropAfterProcess, FaultHTTP401, FaultProcessLate}
}

// defaultSlowDelay is the FaultSlow delay when none is given: past the
// client's 30 s timeout.
const defaultSlowDelay = 45 * time.Second

// Fault makes the next Count requests of operation Op ("" = any, including
// login) misbehave as Kind. Count ≤ 0 means 1.
type Fault struct {
	Op    string        `json:"op"`
	Kind  FaultKind     `json:"kind"`
	Count int           `json:"count"`
	Delay time.Duration `json:"-"` // FaultSlow (≤ 0 means 45s) and FaultProcessLate (≤ 0 means 1s)
}

// InjectFault queues f. Faults apply in the order they were injected; a
// request takes at most one. Unknown kinds are ignored (and logged).
func (s *Sim) InjectFault(f Fault) {
	if !slices.Contains(FaultKinds(), f.Kind) {
		s.log.Warn("bindosim: ignoring fault of unknown kind", "kind", string(f.Kind))
		return
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	if f.Kind == FaultSlow && f.Delay <= 0 {
		f.Delay = defaultSlowDelay
	}
	if f.Kind == FaultProcessLate && f.Delay <= 0 {
		f.Delay = time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Op, f.Count, f)
}

// Request is one recorded request. Body is the JSON body with every card
// field redacted (card_number masked 6/4; tracks, ICC data, CVV, PIN and
// expiry replaced) and the login password and client secret removed; a
// body that is not a JSON object is not kept at all.
type Request struct {
	Time       time.Time      `json:"time"`
	Op         string         `json:"op"`
	Path       string         `json:"path"`
	UUID       string         `json:"uuid,omitempty"` // transaction.uuid, or the queried uuid/brn
	OrigBRN    string         `json:"origin_brn,omitempty"`
	DeviceID   string         `json:"device_id,omitempty"` // X-USER-DEVICE-ID
	Body       map[string]any `json:"body,omitempty"`
	Fault      FaultKind      `json:"fault,omitempty"`
	HTTPStatus int            `json:"http_status"`
	ErrorCode  string         `json:"error_code,omitempty"`
}

// matcher selects the requests of op (or path) and uuid; "" matches any.
func matcher(op, uuid string) func(*Request) bool {
	return func(r *Request) bool {
		return (op == "" || r.Op == op || r.Path == op) && (uuid == "" || strings.EqualFold(r.UUID, uuid))
	}
}

// clone copies r with its own body.
func (r *Request) clone() Request {
	c := *r
	c.Body = cloneJSON(r.Body)
	return c
}

// Requests returns the recorded requests, oldest first, filtered by
// operation (an Op* constant, or the exact URL path) and uuid ("" matches
// any). The log keeps the most recent 45,000-50,000 requests.
func (s *Sim) Requests(op, uuid string) []Request {
	return s.requests.Read(&s.mu, matcher(op, uuid), (*Request).clone)
}

// Count is len(Requests(op, uuid)): "exactly one sale per uuid" checks.
func (s *Sim) Count(op, uuid string) int { return s.requests.Tally(&s.mu, matcher(op, uuid)) }

// Redaction rules: keys whose value is replaced wherever they appear, and
// the credit_card keys that are kept.
var (
	redactedKeys = map[string]bool{
		"password": true, "client_secret": true, "access_token": true,
		"card_track1": true, "card_track2": true, "card_track3": true, "icc_request": true,
		"cvv": true, "pin": true, "card_exp_date": true, "card_holder_name": true, "token": true,
	}
	cardKeptKeys = map[string]bool{"card_reader_mode": true, "card_fallback": true, "is_msd_card": true, "card_sn": true}
)

const redacted = simkit.Redacted

// summarise decodes a request body for the log: the redacted object, the
// transaction uuid and origin_brn.
func summarise(body []byte) (m map[string]any, uuid, origBRN string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "", ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, "", ""
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "", ""
	}
	redactValue(obj, false)
	if tx, ok := obj["transaction"].(map[string]any); ok {
		uuid, _ = tx["uuid"].(string)
		origBRN, _ = tx["origin_brn"].(string)
	}
	return obj, lower(uuid), origBRN
}

// redactValue redacts in place; inCard is true under a credit_card object.
func redactValue(v any, inCard bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			lk := strings.ToLower(k)
			switch {
			case lk == "credit_card":
				if _, ok := val.(map[string]any); ok {
					redactValue(val, true)
				} else {
					x[k] = redacted
				}
			case lk == "card_number":
				if str, ok := val.(string); ok && pan.AllDigits(str) && len(str) >= 12 {
					x[k] = pan.Mask(str)
				} else {
					x[k] = redacted
				}
			case redactedKeys[lk]:
				x[k] = redacted
			case inCard:
				switch val.(type) {
				case map[string]any, []any:
					x[k] = redacted
				default:
					if !cardKeptKeys[lk] {
						x[k] = redacted
					}
				}
			default:
				redactValue(val, inCard)
			}
		}
	case []any:
		for i, e := range x {
			if inCard {
				x[i] = redacted
				continue
			}
			redactValue(e, false)
		}
	}
}

func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&out) != nil {
		return nil
	}
	return out
}
