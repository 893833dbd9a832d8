package device

import (
	"errors"
	"testing"

	"github.com/posbridge/posbridge/internal/money"
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
