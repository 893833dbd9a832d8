package wsapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// CheckGolden compares got with testdata/name, or writes it with -update.
// Exported for the package's external tests.
func CheckGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range max(len(gl), len(wl)) {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s", path, i+1, g, w)
		}
	}
}

// TestNotificationWireGolden: the params of every notification, for events
// with every field set and with every optional one empty, byte for byte as
// testdata/notify.golden has them (run with -update to rewrite it).
func TestNotificationWireGolden(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	t1 := t0.Add(90 * time.Second)
	status, cnt := 2, int64(3)
	full := agent.Payment{
		MerchantOrderNo: "FULL1", Type: agent.TypeCashback, State: agent.StateDeclined, Source: agent.SourceConsole,
		TerminalSN: "T1", Amount: "12.34", Currency: "USD", TipAmount: "1.00", CashbackAmount: "5.00",
		OrigMerchantOrderNo: "ORIG1", Description: "a <description> & \"quotes\"", Route: agent.RouteBindo,
		TransNo: "TN1", TransStatus: &status, AuthCode: "A1", RefNo: "R1",
		Card:   &agent.Card{Brand: "VISA", MaskedPAN: "411111******1111", EntryMode: "contact"},
		Error:  &agent.PaymentError{Code: "codepay_unavailable", Message: "no answer", Fallback: agent.HintNative},
		Notice: "terminal offline", Alert: "check the back office", ExpiresAt: t1, CreatedAt: t0, UpdatedAt: t1, Seq: 42,
	}
	bare := agent.Payment{MerchantOrderNo: "BARE1", Type: agent.TypeSale, State: agent.StateQueued, Error: &agent.PaymentError{}}
	zero := agent.Payment{}
	term := device.Status{SN: "T1", Lane: "1", Name: "Front", Currency: "USD", Online: true, OnlineKnown: true, Busy: true,
		QueueDepth: 2, CurrentOrderNo: "FULL1", CodePay: device.CodePayLink{Known: true, Reachable: false, LastSuccessAt: t0,
			LastFailureAt: t1, UnreachableSince: t1, ConsecutiveFailures: 3, LastError: "timeout"}}
	termUnknown := device.Status{SN: "T2"}
	closed := agent.BatchReport{
		TerminalSN: "T1", BatchNo: 7, State: "closed", OpenedAt: t0, ClosedAt: &t1, ClosedBy: "cli",
		Local: agent.BatchTotals{Count: 2, TotalAmount: "17.34", Currency: "USD", Tips: "1.00",
			ByType:  map[string]agent.TypeTotal{"sale": {Count: 1, Amount: "12.34"}, "cashback": {Count: 1, Amount: "5.00"}},
			ByRoute: map[string]agent.TypeTotal{"codepay": {Count: 2, Amount: "17.34"}}},
		Cloud:       &agent.CloudTotals{Count: &cnt, TotalAmount: "17.35"},
		Differences: []string{"total differs"}, Payments: []string{"FULL1", "BARE1"},
		Comparison: agent.ComparisonDiffer, CloudSettleList: "[{}]",
	}
	nilCount := agent.BatchReport{TerminalSN: "T1", State: "closed", Cloud: &agent.CloudTotals{},
		Local: agent.BatchTotals{ByType: map[string]agent.TypeTotal{}}, Differences: []string{}, Payments: []string{}}
	empty := agent.BatchReport{}
	events := []agent.Event{
		{Payment: &full}, {Payment: &bare}, {Payment: &zero},
		{Terminal: &term}, {Terminal: &termUnknown},
		{Batch: &closed}, {Batch: &nilCount}, {Batch: &empty},
	}
	st := newConnState("payment", "terminal", "batch")
	var out bytes.Buffer
	for _, e := range events {
		method, params, ok := st.notification(e)
		if !ok {
			t.Fatalf("event %+v not delivered", e)
		}
		b, err := json.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", method, b)
	}
	CheckGolden(t, "notify.golden", out.Bytes())
}
