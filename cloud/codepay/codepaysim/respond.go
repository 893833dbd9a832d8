package codepaysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// FaultKind is a kind of injected fault.
type FaultKind string

// processes reports whether the gateway processes a request that gets k.
func (k FaultKind) processes() bool {
	switch k {
	case FaultHTTP500, FaultHTTP429, FaultDrop, FaultHang, FaultProcessLate:
		return false
	}
	return true
}

// Fault kinds that answer without processing the request.
const (
	// FaultHTTP500 answers HTTP 500 without processing the request.
	FaultHTTP500 FaultKind = "http500"
	// FaultHTTP429 answers HTTP 429 (rate limited) without processing the request.
	FaultHTTP429 FaultKind = "http429"
	// FaultDrop closes the connection without processing the request.
	FaultDrop FaultKind = "drop"
	// FaultHang does not process the request and never answers: it holds the
	// connection until the client gives up or Fault.Delay passes, then
	// closes it (a frozen gateway).
	FaultHang FaultKind = "hang"
	// FaultProcessLate answers HTTP 502 at once without processing the
	// request, and processes it Fault.Delay later (real time): a request
	// held on the way (a proxy that retried it) that reaches the gateway
	// after the client gave up on it, perhaps after the client was told
	// "no such order".
	FaultProcessLate FaultKind = "process_late"
)

// Fault kinds that process the request, then answer late, not at all or
// with an HTTP error.
const (
	// FaultSlow processes the request, then waits Fault.Delay (real time)
	// before responding; a client that gives up first never sees the answer.
	FaultSlow FaultKind = "slow"
	// FaultDropAfterProcess processes the request, then closes the TCP
	// connection without any response: the unknown-outcome case.
	FaultDropAfterProcess FaultKind = "drop_after_process"
	// FaultHTTP500AfterProcess processes the request, then answers HTTP 500
	// with a plain-text body: the gateway did the work, the client sees an error.
	FaultHTTP500AfterProcess FaultKind = "http500_after_process"
	// FaultHTTP429AfterProcess processes the request, then answers HTTP 429.
	FaultHTTP429AfterProcess FaultKind = "http429_after_process"
)

// Fault kinds that process the request and answer with a damaged envelope.
const (
	// FaultBadSignature signs the response over different content.
	FaultBadSignature FaultKind = "bad_signature"
	// FaultUnsigned omits "sign" from the response.
	FaultUnsigned FaultKind = "unsigned"
	// FaultDataAsString sends "data" as a JSON string holding the object
	// (correctly signed over the string's contents).
	FaultDataAsString FaultKind = "data_as_string"
)

// FaultKinds lists every kind.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultHTTP500, FaultSlow, FaultDropAfterProcess, FaultBadSignature, FaultUnsigned, FaultDataAsString,
		FaultHTTP500AfterProcess, FaultHTTP429, FaultHTTP429AfterProcess, FaultDrop, FaultHang, FaultProcessLate}
}

func (k FaultKind) valid() bool { return slices.Contains(FaultKinds(), k) }

// defaultSlowDelay is the FaultSlow delay when none is given: past the
// client's usual 15 s timeout.
const defaultSlowDelay = 30 * time.Second

// Fault makes the next Count /api/entry requests whose method equals Method
// ("" = any) misbehave as Kind. Count ≤ 0 means 1.
type Fault struct {
	Method string        `json:"method"`
	Kind   FaultKind     `json:"kind"`
	Count  int           `json:"count"`
	Delay  time.Duration `json:"-"` // FaultSlow and FaultHang (≤ 0 means 30s), FaultProcessLate (≤ 0 means 1s)
}

// InjectFault queues f. Faults apply in the order they were injected; a
// request takes at most one. Unknown kinds are ignored (and logged).
func (s *Sim) InjectFault(f Fault) {
	if !f.Kind.valid() {
		s.log.Warn("codepaysim: ignoring fault of unknown kind", "kind", string(f.Kind))
		return
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	if (f.Kind == FaultSlow || f.Kind == FaultHang) && f.Delay <= 0 {
		f.Delay = defaultSlowDelay
	}
	if f.Kind == FaultProcessLate && f.Delay <= 0 {
		f.Delay = time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Method, f.Count, f)
}

// ClearFaults drops every fault not yet used up: the emulator answers
// normally again.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear()
}

// Request is one recorded /api/entry request.
type Request struct {
	Time            time.Time      `json:"time"`
	Method          string         `json:"method"`
	MerchantOrderNo string         `json:"merchant_order_no,omitempty"`
	Params          codepay.Params `json:"params"` // as received; card data redacted
	ContentType     string         `json:"content_type,omitempty"`
	RequestPSN      string         `json:"request_psn,omitempty"` // Http-Request-Psn header
	Fault           FaultKind      `json:"fault,omitempty"`       // fault applied to this request
	Code            string         `json:"code,omitempty"`        // response code; "" when no envelope was built (HTTP 500 fault)
	Msg             string         `json:"msg,omitempty"`
	PSN             string         `json:"psn,omitempty"`
	// Late marks a held request reaching the gateway (FaultProcessLate):
	// recorded again when it is processed, with the code it got.
	Late bool `json:"late,omitempty"`
}

func (r *Request) clone() Request {
	c := *r
	c.Params = maps.Clone(r.Params)
	return c
}

// redactedKeys never reach the request log: card data of pay.merchant.checkout.
var redactedKeys = []string{"card", "pan", "cvv", "track2", "track_data", "icc_data"}

func redact(p codepay.Params) codepay.Params {
	c := maps.Clone(p)
	for k := range c {
		if slices.Contains(redactedKeys, strings.ToLower(k)) {
			c[k] = simkit.Redacted
		}
	}
	return c
}

// handleEntry serves POST /api/entry.
func (s *Sim) handleEntry(w http.ResponseWriter, r *http.Request) {
	var (
		p      codepay.Params
		decErr error
	)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		decErr = fmt.Errorf("%w: read body: %v", errDecode, err)
	} else {
		p, decErr = decodeRequest(r.Header.Get("Content-Type"), body)
	}

	s.mu.Lock()
	now := s.clock.Now()
	method := p["method"]
	fault := s.faults.Take(method)
	rec := &Request{
		Time: now, Method: method, MerchantOrderNo: p["merchant_order_no"], Params: redact(p),
		ContentType: r.Header.Get("Content-Type"), RequestPSN: r.Header.Get("Http-Request-Psn"), Fault: fault.Kind,
	}
	s.requests.Add(rec)
	if !fault.Kind.processes() {
		if fault.Kind == FaultProcessLate && decErr == nil {
			s.processLater(r, p, fault.Delay)
		}
		s.mu.Unlock()
		s.log.Info("codepaysim: injected fault, request not processed", "fault", string(fault.Kind), "method", method, "merchant_order_no", rec.MerchantOrderNo)
		s.failUnprocessed(w, r, fault)
		return
	}
	var (
		data map[string]any
		aerr *apiError
	)
	if decErr != nil {
		s.advanceLocked(now)
		aerr = refuse(CodeInvalidParameter, "invalid request body: %v", decErr)
	} else {
		data, aerr = s.processLocked(r, p, now)
		if aerr == nil {
			s.styleAmountsLocked(data) // every method's amounts, one place
		}
		if aerr == nil && fault.Kind == "" && method == codepay.MethodPayOrder {
			fault = s.magicFaultLocked(p["merchant_order_no"]) // a magic amount's lost or late answer
			rec.Fault = fault.Kind
		}
	}
	code, msg := CodeOK, "success"
	if aerr != nil {
		code, msg, data = aerr.code, aerr.msg, nil
	}
	s.seq++
	psn := fmt.Sprintf("%s%010d", now.UTC().Format("0102150405"), s.seq%10_000_000_000)
	rec.Code, rec.Msg, rec.PSN = code, msg, psn
	s.mu.Unlock()

	s.log.Info("codepaysim: request", "method", method, "merchant_order_no", rec.MerchantOrderNo,
		"code", code, "msg", msg, "fault", string(fault.Kind))
	out, err := s.encodeResponse(code, msg, psn, data, fault.Kind)
	if simkit.EncodeFailed(w, s.log, "codepaysim", err) ||
		!simkit.Misbehave(w, r, fault.Kind == FaultSlow, fault.Kind == FaultDropAfterProcess, fault.Delay) {
		return
	}
	switch fault.Kind {
	case FaultHTTP500AfterProcess:
		http.Error(w, "internal server error (injected fault, request processed)", http.StatusInternalServerError)
		return
	case FaultHTTP429AfterProcess:
		http.Error(w, "too many requests (injected fault, request processed)", http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	_, _ = w.Write(out)
}

// failUnprocessed answers a request the emulator did not process.
func (s *Sim) failUnprocessed(w http.ResponseWriter, r *http.Request, f Fault) {
	switch f.Kind {
	case FaultHTTP500:
		http.Error(w, "internal server error (injected fault)", http.StatusInternalServerError)
	case FaultHTTP429:
		http.Error(w, "too many requests (injected fault)", http.StatusTooManyRequests)
	case FaultDrop:
		simkit.DropConn(w)
	case FaultHang:
		simkit.WaitOrGone(r, f.Delay)
		simkit.DropConn(w)
	case FaultProcessLate:
		http.Error(w, "bad gateway (injected fault: the request reaches the gateway later)", http.StatusBadGateway)
	}
}

// processLater runs a held request delay from now (FaultProcessLate), or
// when ReleaseHeld is called, as if it had just arrived; its answer goes
// nowhere.
func (s *Sim) processLater(r *http.Request, p codepay.Params, delay time.Duration) {
	s.held.Add(delay, func() {
		s.mu.Lock()
		now := s.clock.Now()
		_, aerr := s.processLocked(r, p, now)
		code, msg := CodeOK, "success"
		if aerr != nil {
			code, msg = aerr.code, aerr.msg
		}
		s.requests.Add(&Request{Time: now, Method: p["method"], MerchantOrderNo: p["merchant_order_no"], Params: redact(p),
			ContentType: r.Header.Get("Content-Type"), RequestPSN: r.Header.Get("Http-Request-Psn"), Late: true, Code: code, Msg: msg})
		s.mu.Unlock()
		s.log.Info("codepaysim: held request processed late", "method", p["method"], "merchant_order_no", p["merchant_order_no"], "code", code)
	})
}

// ReleaseHeld processes now every request a process_late fault still
// holds, as if each had just arrived; it returns how many.
func (s *Sim) ReleaseHeld() int { return s.held.Release() }

// encodeResponse builds {"code","msg","psn","data"} and adds "sign":
// SHA256withRSA with the gateway key over codepay.Canonical of
// codepay.ResponseParams of the body without sign (data as its compact JSON).
func (s *Sim) encodeResponse(code, msg, psn string, data map[string]any, kind FaultKind) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"code":`)
	if err := writeJSON(&b, code); err != nil {
		return nil, err
	}
	b.WriteString(`,"msg":`)
	if err := writeJSON(&b, msg); err != nil {
		return nil, err
	}
	b.WriteString(`,"psn":`)
	if err := writeJSON(&b, psn); err != nil {
		return nil, err
	}
	if data != nil {
		dj, err := marshalNoEscape(data)
		if err != nil {
			return nil, fmt.Errorf("encode response data: %w", err)
		}
		b.WriteString(`,"data":`)
		if kind == FaultDataAsString {
			if err := writeJSON(&b, string(dj)); err != nil {
				return nil, err
			}
		} else {
			b.Write(dj)
		}
	}
	b.WriteByte('}')
	if kind == FaultUnsigned {
		return b.Bytes(), nil
	}
	params, err := codepay.ResponseParams(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compute response params: %w", err)
	}
	canon := codepay.Canonical(params)
	if kind == FaultBadSignature {
		canon += "&sim_fault=bad_signature"
	}
	sig, err := codepay.SignString(s.cfg.GatewayKey, canon)
	if err != nil {
		return nil, fmt.Errorf("sign response: %w", err)
	}
	out := b.Bytes()[:b.Len()-1]
	var tail bytes.Buffer
	tail.WriteString(`,"sign":`)
	if err := writeJSON(&tail, sig); err != nil {
		return nil, err
	}
	tail.WriteByte('}')
	return append(out, tail.Bytes()...), nil
}

// marshalNoEscape is json.Marshal without HTML escaping and without the
// encoder's trailing newline.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}
