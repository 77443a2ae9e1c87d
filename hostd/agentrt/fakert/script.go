package fakert

// Script is what one fake turn does.
type Script struct {
	// Steps run in order. A script that runs out of steps completes with
	// its last message as output.
	Steps []Step
	// StartErr makes StartTurn fail with this error.
	StartErr error
	// StartGate, if set, makes StartTurn wait until it is closed (a slow
	// boot).
	StartGate <-chan struct{}
	// SessionID is reported through OnSession; default: the request's
	// SessionID (a resumed conversation), else a fresh fake id.
	SessionID string
	// SteerReply, if set, makes every taken steer produce an agent message
	// with this text (empty = none).
	SteerReply func(steer string) string
	// ExitGate, if set, delays the end of a killed turn until it is closed
	// (a process slow to exit): Kill and Wait return only after that.
	ExitGate <-chan struct{}
	// WaitErr makes Wait return this error instead of a result.
	WaitErr error
}

type stepKind int

const (
	stepSay stepKind = iota
	stepGate
	stepAwaitSteers
	stepHang
	stepComplete
	stepFail
	stepInterrupt
	stepCloseSteering
)

// Step is one action of a script.
type Step struct {
	kind stepKind
	text string
	gate <-chan struct{}
	n    int
}

// Say emits a completed agent message.
func Say(text string) Step { return Step{kind: stepSay, text: text} }

// Gate pauses until gate is closed, taking steers meanwhile.
func Gate(gate <-chan struct{}) Step { return Step{kind: stepGate, gate: gate} }

// AwaitSteers pauses until the turn has taken n steers in total.
func AwaitSteers(n int) Step { return Step{kind: stepAwaitSteers, n: n} }

// Hang pauses until the turn is killed, taking steers meanwhile.
func Hang() Step { return Step{kind: stepHang} }

// Complete ends the turn as completed with output ("" = the last message).
func Complete(output string) Step { return Step{kind: stepComplete, text: output} }

// Fail ends the turn as failed with this error message.
func Fail(msg string) Step { return Step{kind: stepFail, text: msg} }

// Interrupt ends the turn as interrupted without a kill (as a CLI does
// when its turn is interrupted from elsewhere).
func Interrupt() Step { return Step{kind: stepInterrupt} }

// CloseSteering passes the turn's last steering point: later steers get
// agentrt.ErrTurnEnded although the turn is still running.
func CloseSteering() Step { return Step{kind: stepCloseSteering} }

// Reply is a script that says text and completes with it.
func Reply(text string) Script { return Script{Steps: []Step{Say(text), Complete("")}} }

// Stream is a script that says each message in order, each after its gate
// is closed (gates[i] before msgs[i]; a nil gate does not wait), then
// completes with the last one.
func Stream(msgs []string, gates []<-chan struct{}) Script {
	var steps []Step
	for i, m := range msgs {
		if i < len(gates) && gates[i] != nil {
			steps = append(steps, Gate(gates[i]))
		}
		steps = append(steps, Say(m))
	}
	return Script{Steps: append(steps, Complete(""))}
}

// Failing is a script that fails with msg.
func Failing(msg string) Script { return Script{Steps: []Step{Fail(msg)}} }

// Hanging is a script that says nothing and runs until killed.
func Hanging() Script { return Script{Steps: []Step{Hang()}} }
