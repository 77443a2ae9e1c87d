package tasks

import "context"

// AnswerFunc renders the admin API's answer to a create from the task it
// made: the status and body a replay of the request's Idempotency-Key
// must return.
type AnswerFunc func(Task) (status int, body []byte, err error)

type answerKey struct{}

type answer struct {
	key string
	fn  AnswerFunc
}

// WithCreateAnswer asks Service.Create to store the answer to the create
// under the request's Idempotency-Key in the same commit as the task. A
// create that committed is then never run a second time by a retry of
// its key, even when the process died before the answer was sent; and the
// API's own store of the answer becomes a no-op instead of a second
// commit. A service that cannot do it ignores the request (the API
// stores the answer after the create, as for any other mutation).
func WithCreateAnswer(ctx context.Context, key string, fn AnswerFunc) context.Context {
	return context.WithValue(ctx, answerKey{}, answer{key: key, fn: fn})
}

// CreateAnswer returns what WithCreateAnswer attached to ctx.
func CreateAnswer(ctx context.Context) (key string, fn AnswerFunc, ok bool) {
	a, ok := ctx.Value(answerKey{}).(answer)
	if !ok || a.key == "" || a.fn == nil {
		return "", nil, false
	}
	return a.key, a.fn, true
}
