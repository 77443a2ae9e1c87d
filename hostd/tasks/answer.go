package tasks

import "context"

// AnswerFunc renders the admin API's answer to a task mutation from the
// task it acted on: the status and body a replay of the request's
// Idempotency-Key must return.
type AnswerFunc func(Task) (status int, body []byte, err error)

type answerKey struct{}

type answer struct {
	key string
	fn  AnswerFunc
}

// WithAnswer asks the task mutation run with ctx (create, edit, steer,
// cancel, kill) to store the answer to its request under the request's
// Idempotency-Key in the same commit as the change. A mutation that
// committed is then never run a second time by a retry of its key, and
// its retry gets the original answer rather than a 409 about the state
// the first run left behind, even when the process died before the
// answer was sent; the API's own store of the answer becomes a no-op
// instead of a second commit. A service that cannot do it ignores the
// request (the API then stores the answer after the mutation).
func WithAnswer(ctx context.Context, key string, fn AnswerFunc) context.Context {
	return context.WithValue(ctx, answerKey{}, answer{key: key, fn: fn})
}

// AnswerFrom returns what WithAnswer attached to ctx.
func AnswerFrom(ctx context.Context) (key string, fn AnswerFunc, ok bool) {
	a, ok := ctx.Value(answerKey{}).(answer)
	if !ok || a.key == "" || a.fn == nil {
		return "", nil, false
	}
	return a.key, a.fn, true
}
