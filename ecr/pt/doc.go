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
// acknowledges it. If it never does, after the repeats, an approved sale is
// reversed automatically (a void through the agent), recorded on the payment
// and raised as an alert; once the ECR has acknowledged 04 0F the payment
// stands, and Repeat Receipt (06 20) lets the ECR resynchronise.
//
// The package talks to the agent only through the Agent interface (payments)
// and keeps its counter, notes and settings through the Memory interface
// (store.ECRMemory, wired by cmd/posbridge); it never imports the cloud or
// the journal. No card data is logged: APDUs are logged by
// control field and length, PANs only ever travel masked.
package pt
