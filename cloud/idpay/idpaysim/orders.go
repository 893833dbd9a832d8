package idpaysim

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// platRespCode values (spec line 100).
const (
	respSuccess = "SUCCESS"
	respUnknown = "UNKNOWN"
	respFail    = "FAIL"
)

// Order statuses (spec lines 64-68).
const (
	statusInitOrder  = "INIT_ORDER"
	statusNoPay      = "NO_PAY"
	statusOpenPayURL = "OPEN_PAY_URL"
	statusSuccess    = "SUCCESS"
	statusPayCancel  = "PAY_CANCEL"
)

// Error codes of FAIL answers. The document's exception code list (line
// 13) is not included: these are the emulator's.
const (
	CodeParamError     = "PARAM_ERROR"
	CodeSignError      = "SIGN_ERROR"
	CodeMerchantError  = "MERCHANT_ERROR"
	CodeOrderDuplicate = "ORDER_DUPLICATE"
	CodeOrderNotFound  = "ORDER_NOT_FOUND"
	CodeSystemError    = "SYSTEM_ERROR"
)

// methods are the payment methods of spec lines 43-56, each with the
// emulator's virtual-account prefix for banks.
var methods = map[string]string{
	"VA_BCA": "39358", "VA_MANDIRI": "89608", "VA_PERMATA": "89652", "VA_CIMB": "20570",
	"VA_BNI": "98829", "VA_BRI": "26215", "VA_BNC": "90123", "VA_SAMPOERNA": "22430",
	"VA_MAYBANK": "78218", "VA_DANAMON": "79071",
	"RETAIL_ALFAMART": "", "QRIS": "", "EWALLET_DANA": "", "EWALLET_OVO": "",
}

// Methods lists the method codes the emulator accepts (spec lines 43-56).
func Methods() []string {
	out := make([]string, 0, len(methods))
	for m := range methods {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// Expiry period (spec line 81): minutes, recommended 15-97200, default
// 4320 when not sent. The emulator refuses values outside the range.
const (
	minExpiryMinutes     = 15
	maxExpiryMinutes     = 97200
	defaultExpiryMinutes = 4320
)

// ovoWindow: "OVO requires the customer to complete the payment within 30
// seconds, and expires" (spec line 80).
const ovoWindow = 30 * time.Second

var (
	integerAmount = regexp.MustCompile(`^[1-9][0-9]{0,14}$`)         // lines 35, 60
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9 ]{1,30}$`)       // line 78
	phonePattern  = regexp.MustCompile(`^[0-9]+$`)                   // line 79
	emailPattern  = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`) // line 79: xxx@xx.xx
	orderPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)      // open: the emulator's limit
	urlPattern    = regexp.MustCompile(`^https?://[^\s]{1,250}$`)    // open
)

// order is one payment order.
type order struct {
	no, platNo string
	method     string
	amount     int64 // rupiah
	status     string
	vaNumber   string
	qrContent  string
	payCode    string
	payURL     string
	notifyURL  string
	createdAt  time.Time
	expiresAt  time.Time
	paidAt     time.Time
	callbacks  []callbackRef
}

func (o *order) pending() bool {
	return o.status == statusInitOrder || o.status == statusNoPay || o.status == statusOpenPayURL
}

// OrderView is an order as the admin API shows it.
type OrderView struct {
	OrderNo     string     `json:"order_no"`
	PlatOrderNo string     `json:"plat_order_no"`
	Method      string     `json:"method"`
	Amount      int64      `json:"amount"` // rupiah
	Status      string     `json:"status"`
	Expired     bool       `json:"expired"` // pending and past its expiry (no status of its own)
	VANumber    string     `json:"va_number,omitempty"`
	QRContent   string     `json:"qr_content,omitempty"`
	PaymentCode string     `json:"payment_code,omitempty"`
	PayURL      string     `json:"pay_url,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	Callbacks   []Delivery `json:"callbacks"`
}

func (s *Sim) viewLocked(o *order) OrderView {
	v := OrderView{
		OrderNo: o.no, PlatOrderNo: o.platNo, Method: o.method, Amount: o.amount, Status: o.status,
		Expired:  o.pending() && !s.clock.Now().Before(o.expiresAt),
		VANumber: o.vaNumber, QRContent: o.qrContent, PaymentCode: o.payCode, PayURL: o.payURL,
		CreatedAt: o.createdAt, ExpiresAt: o.expiresAt, Callbacks: []Delivery{},
	}
	if !o.paidAt.IsZero() {
		t := o.paidAt
		v.PaidAt = &t
	}
	for _, c := range o.callbacks {
		v.Callbacks = append(v.Callbacks, deliveryView(c.msg.State()))
	}
	return v
}

// apiError is a FAIL answer.
type apiError struct{ code, msg string }

func refuse(code, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// createLocked handles a create request whose signature verified.
func (s *Sim) createLocked(p params, now time.Time) (params, string, *apiError) {
	if e := checkCreate(p); e != nil {
		return nil, "", e
	}
	no := p[fOrderNo]
	if _, dup := s.orders[no]; dup {
		return nil, "", refuse(CodeOrderDuplicate, "order %s already exists", no)
	}
	sc, scripted := s.creates[no]
	if scripted {
		delete(s.creates, no)
		if sc.RespCode == respFail || !sc.Process {
			return nil, sc.RespCode, scriptedError(sc)
		}
	}
	o := s.newOrderLocked(p, now)
	ans := s.orderFields(o)
	ans[fStatus] = statusInitOrder // "Successfully created order" (line 65)
	if scripted {
		// UNKNOWN after taking the order (line 100): "the order cannot be
		// considered as a failure" (line 104).
		return nil, respUnknown, scriptedError(sc)
	}
	return ans, respSuccess, nil
}

func scriptedError(sc CreateScript) *apiError {
	code, msg := sc.ErrorCode, sc.Message
	if code == "" && sc.RespCode == respFail {
		code = CodeSystemError
	}
	if msg == "" {
		msg = "scripted " + strings.ToLower(sc.RespCode)
	}
	return &apiError{code: code, msg: msg}
}

// checkCreate applies the document's field rules.
func checkCreate(p params) *apiError {
	for k, v := range p {
		// "please avoid Chinese and some special payments, such as
		// emoticons, for interface request parameters" (line 77).
		if !isPrintableASCII(v) {
			return refuse(CodeParamError, "%s: only ASCII characters are accepted", k)
		}
	}
	if !orderPattern.MatchString(p[fOrderNo]) {
		return refuse(CodeParamError, "%s: 1-32 letters, digits, '_' or '-'", fOrderNo)
	}
	if _, ok := methods[p[fMethod]]; !ok {
		return refuse(CodeParamError, "%s %q is not supported", fMethod, p[fMethod])
	}
	if !integerAmount.MatchString(p[fAmount]) {
		return refuse(CodeParamError, "%s must be a positive integer number of rupiah", fAmount)
	}
	if e := checkCustomer(p); e != nil {
		return e
	}
	if v, ok := p[fExpiryPeriod]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < minExpiryMinutes || n > maxExpiryMinutes {
			return refuse(CodeParamError, "%s must be %d-%d minutes", fExpiryPeriod, minExpiryMinutes, maxExpiryMinutes)
		}
	}
	if v := p[fNotifyURL]; v != "" && !urlPattern.MatchString(v) {
		return refuse(CodeParamError, "%s must be an http(s) URL", fNotifyURL)
	}
	return nil
}

// checkCustomer applies the rules of spec lines 78-80.
func checkCustomer(p params) *apiError {
	if !namePattern.MatchString(p[fName]) || utf8.RuneCountInString(p[fName]) > 30 {
		return refuse(CodeParamError, "%s: 1-30 letters, digits and spaces", fName)
	}
	if v := p[fEmail]; v != "" && !emailPattern.MatchString(v) {
		return refuse(CodeParamError, "%s must be xxx@xx.xx", fEmail)
	}
	if v := p[fPhone]; v != "" && !phonePattern.MatchString(v) {
		return refuse(CodeParamError, "%s must be digits only", fPhone)
	}
	if p[fMethod] == "EWALLET_OVO" && p[fPhone] == "" {
		return refuse(CodeParamError, "%s is required for EWALLET_OVO", fPhone)
	}
	return nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newOrderLocked creates the order with what the customer pays with.
func (s *Sim) newOrderLocked(p params, now time.Time) *order {
	s.seq++
	amount, _ := strconv.ParseInt(p[fAmount], 10, 64)
	minutes := defaultExpiryMinutes
	if v, ok := p[fExpiryPeriod]; ok {
		minutes, _ = strconv.Atoi(v)
	}
	o := &order{
		no: p[fOrderNo], platNo: fmt.Sprintf("PL%s%08d", now.UTC().Format("060102"), s.seq),
		method: p[fMethod], amount: amount, status: statusNoPay, notifyURL: p[fNotifyURL],
		createdAt: now, expiresAt: now.Add(time.Duration(minutes) * time.Minute),
	}
	switch {
	case strings.HasPrefix(o.method, "VA_"):
		o.vaNumber = fmt.Sprintf("%s%011d", methods[o.method], s.seq)
	case o.method == "QRIS":
		o.qrContent = qrisPayload(o.platNo, amount)
	case o.method == "RETAIL_ALFAMART":
		o.payCode = fmt.Sprintf("ALFA%012d", s.seq)
	case o.method == "EWALLET_DANA":
		o.status, o.payURL = statusOpenPayURL, "https://m.dana.id.sim.invalid/pay/"+o.platNo
	case o.method == "EWALLET_OVO":
		// OVO pushes to the customer's app (line 80): no URL, 30 s to pay.
		o.expiresAt = now.Add(min(ovoWindow, time.Duration(minutes)*time.Minute))
	}
	s.orders[o.no] = o
	s.orderList = append(s.orderList, o)
	return o
}

// orderFields are the order members of an answer.
func (s *Sim) orderFields(o *order) params {
	return params{
		fMerchantCode: s.cfg.MerchantCode, fOrderNo: o.no, fPlatOrderNo: o.platNo, fMethod: o.method,
		fAmount: strconv.FormatInt(o.amount, 10), fStatus: o.status,
		fVANumber: o.vaNumber, fQRContent: o.qrContent, fPaymentCode: o.payCode, fPayURL: o.payURL,
	}
}

// queryLocked handles a query request whose signature verified.
func (s *Sim) queryLocked(p params) (params, string, *apiError) {
	no := p[fOrderNo]
	if no == "" {
		return nil, respFail, refuse(CodeParamError, "%s is required", fOrderNo)
	}
	if sc, ok := s.queries[no]; ok {
		sc.Count--
		if sc.Count <= 0 {
			delete(s.queries, no)
		}
		if sc.RespCode == respUnknown {
			return nil, respUnknown, &apiError{msg: "scripted unknown: system is abnormal, query again"}
		}
		if o, ok := s.orders[no]; ok {
			ans := s.orderFields(o)
			ans[fStatus] = sc.Status
			return ans, respSuccess, nil
		}
	}
	o, ok := s.orders[no]
	if !ok {
		return nil, respFail, refuse(CodeOrderNotFound, "order %s does not exist", no)
	}
	return s.orderFields(o), respSuccess, nil
}
