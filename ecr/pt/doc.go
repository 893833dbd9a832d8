// Package pt is posbridge playing the ZVT payment terminal (PT) towards one
// legacy electronic cash register (ECR): the PT-side state machine of
// PA00P015 over a zvt.Transport (serial Link or TCP), mapped onto the agent's
// payment lifecycle.
//
// One PT serves one [[ecr]] entry and is bound to one CodePay terminal. Lines
// (a serial port, a TCP connection) attach to it with Session; payments run in
// a job that outlives a line, so an ECR that reconnects and sends the same
// authorisation again gets the result of the payment already running, never a
// second charge.
//
// Money safety follows PA00P015 §2.2.8–2.2.9: the result of a payment
// (Status-Information 04 0F) counts as delivered only when the ECR
// acknowledges it and, for an ECR that prints the PT's receipts, every print
// line (06 D1) or text block (06 D3) of its receipt. If it never does, after
// the repeats, an approved sale is reversed automatically (a void through the
// agent), recorded on the payment and raised as an alert; once the ECR has
// acknowledged it the payment stands, and Repeat Receipt (06 20) lets the
// ECR resynchronise. An ECR that synchronises by receipt number (tag 1F1F,
// §4) decides itself: its next transaction confirms or reverses the last.
//
// Receipts come from the agent (Agent.Receipt) and go to the ECR as print
// lines when it registered for them (print.go); a refund without receipt
// number finds its sale by amount (refund.go).
//
// The package talks to the agent only through the Agent interface (payments)
// and keeps its counter, notes and settings through the Memory interface
// (store.ECRMemory, wired by cmd/posbridge); it never imports the cloud or
// the journal. No card data is logged: APDUs are logged by
// control field and length, PANs only ever travel masked.
package pt
