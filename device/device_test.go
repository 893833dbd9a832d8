package device

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/money"
)

func TestRegistry(t *testing.T) {
	usd := money.MustCurrency("USD")
	r, err := NewRegistry([]Terminal{{SN: "B", Lane: "2", Currency: usd}, {SN: "A", Lane: "1", Currency: usd}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.ByLane("2"); err != nil || got.SN != "B" {
		t.Fatalf("ByLane(2) = %v, %v", got, err)
	}
	if _, err := r.Lookup("Z"); !errors.Is(err, ErrUnknownTerminal) {
		t.Fatalf("Lookup(Z) error = %v", err)
	}
	if _, err := r.ByLane("9"); !errors.Is(err, ErrUnknownTerminal) {
		t.Fatalf("ByLane(9) error = %v", err)
	}
	if s, changed := r.SetOnline("A", true); !changed || !s.Online || !s.OnlineKnown {
		t.Fatalf("SetOnline = %+v, %v", s, changed)
	}
	if _, changed := r.SetOnline("A", true); changed {
		t.Fatal("SetOnline twice reported a change")
	}
	st := r.Statuses()
	if len(st) != 2 || st[0].SN != "A" || st[1].SN != "B" {
		t.Fatalf("Statuses = %+v", st)
	}
	if _, err := NewRegistry([]Terminal{{SN: "A", Lane: "1"}, {SN: "B", Lane: "1"}}); err == nil {
		t.Fatal("duplicate lane accepted")
	}
}

func TestCodePayLinkOnEveryTerminal(t *testing.T) {
	usd := money.MustCurrency("USD")
	r, err := NewRegistry([]Terminal{{SN: "A", Lane: "1", Currency: usd}, {SN: "B", Lane: "2", Currency: usd}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 4, 10, 11, 12, 0, time.FixedZone("CET", 3600))
	l := CodePayLink{Known: true, Reachable: false, LastFailureAt: at, UnreachableSince: at, ConsecutiveFailures: 3, LastError: "connection refused"}
	if !r.SetCodePay(l) {
		t.Fatal("SetCodePay reported no change")
	}
	if r.SetCodePay(l) {
		t.Fatal("SetCodePay of the same link reported a change")
	}
	for _, s := range r.Statuses() {
		if s.CodePay != l {
			t.Errorf("status of %s carries %+v, want %+v", s.SN, s.CodePay, l)
		}
	}
	// A terminal update neither loses the link nor counts it as a change.
	s, changed := r.Update("A", func(s *Status) { s.QueueDepth = 0 })
	if changed || s.CodePay != l {
		t.Fatalf("Update = %+v, changed %v", s, changed)
	}
	if s, _ := r.Status("B"); s.CodePay != l {
		t.Fatalf("Status(B).CodePay = %+v", s.CodePay)
	}
}

func TestCodePayLinkJSON(t *testing.T) {
	tests := []struct {
		name string
		link CodePayLink
		want string
	}{
		{"unknown", CodePayLink{}, `{"reachable":null,"last_success_at":null,"last_failure_at":null,"unreachable_since":null,"consecutive_failures":0,"last_error":""}`},
		{"reachable", CodePayLink{Known: true, Reachable: true, LastSuccessAt: time.Date(2025, 3, 4, 10, 0, 0, 0, time.FixedZone("CET", 3600))},
			`{"reachable":true,"last_success_at":"2025-03-04T09:00:00Z","last_failure_at":null,"unreachable_since":null,"consecutive_failures":0,"last_error":""}`},
		{"unreachable", CodePayLink{Known: true, LastFailureAt: time.Date(2025, 3, 4, 9, 0, 5, 0, time.UTC), UnreachableSince: time.Date(2025, 3, 4, 9, 0, 1, 0, time.UTC), ConsecutiveFailures: 2, LastError: "timeout"},
			`{"reachable":false,"last_success_at":null,"last_failure_at":"2025-03-04T09:00:05Z","unreachable_since":"2025-03-04T09:00:01Z","consecutive_failures":2,"last_error":"timeout"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(Status{SN: "A", CodePay: tc.link})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"codepay":`+tc.want) {
				t.Fatalf("JSON = %s, want codepay %s", b, tc.want)
			}
			var back Status
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.CodePay.LastSuccessAt.Equal(tc.link.LastSuccessAt) || back.CodePay.Known != tc.link.Known ||
				back.CodePay.Reachable != tc.link.Reachable || back.CodePay.ConsecutiveFailures != tc.link.ConsecutiveFailures ||
				!back.CodePay.UnreachableSince.Equal(tc.link.UnreachableSince) || back.CodePay.LastError != tc.link.LastError {
				t.Fatalf("round trip = %+v, want %+v", back.CodePay, tc.link)
			}
		})
	}
}
