package card_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/posbridge/posbridge/device/card"
)

func ExampleParse() {
	in := card.Input{
		ReaderMode: "swipe",
		Track2:     ";4761739001010119=2812201175892888?",
	}
	c, err := card.Parse(in, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Wipe()
	fmt.Println(in)
	fmt.Println(c)
	fmt.Println(c.Brand(), c.Masked(), c.EntryMode(), c.Expiry())
	// Output:
	// card input (swipe, masked 476173******0119)
	// card Visa 476173******0119 (swipe)
	// Visa 476173******0119 swipe 2812
}

func ExampleParse_error() {
	_, err := card.Parse(card.Input{
		ReaderMode: "contact",
		Track2:     "4761739001010119=2812201175892888",
		ICC:        "5A084111111111111111",
		CardSN:     "001",
	}, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	var fe *card.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Field, "|", fe.Reason, "|", errors.Is(err, card.ErrInvalidCard))
	}
	// Output:
	// card.icc | tag 5A does not match track2 | true
}
