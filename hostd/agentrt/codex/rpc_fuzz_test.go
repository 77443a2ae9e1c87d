package codex

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// FuzzJSONRPCStream feeds arbitrary app-server output through the
// connection's read loop: it must never panic, and every line must be
// either dispatched or counted as bad.
func FuzzJSONRPCStream(f *testing.F) {
	f.Add([]byte(`{"id":1,"result":{}}` + "\n" + `{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"x","status":"completed"}}}` + "\n"))
	f.Add([]byte(`{"id":"s","method":"item/commandExecution/requestApproval","params":{}}` + "\n"))
	f.Add([]byte("not json\n{\"id\":null}\n{}\n[]\n"))
	f.Add([]byte(`{"method":"item/completed","params":{"item":{"type":"agentMessage","text":"\u0000"}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newConn(io.Discard, logging.Nop())
		c.setNotify(func(method string, params json.RawMessage) {
			var p turnParams
			_ = json.Unmarshal(params, &p) // handlers must tolerate any params shape
		})
		_ = c.readLoop(bytes.NewReader(in))
		if c.err() == nil {
			t.Fatal("read loop ended but connection not closed")
		}
	})
}

func TestDecodeMessageClassifies(t *testing.T) {
	cases := map[string]kind{
		`{"id":1,"result":{}}`:                        kindResponse,
		`{"id":"a","error":{"code":1,"message":"x"}}`: kindResponse,
		`{"method":"x"}`:                              kindNotification,
		`{"method":"x","id":null}`:                    kindNotification,
		`{"method":"x","id":7,"params":{}}`:           kindRequest,
		`{"id":1}`:                                    0,
		`[1]`:                                         0,
		`{"method":`:                                  0,
	}
	for in, want := range cases {
		_, k, err := decodeMessage([]byte(in))
		if k != want || (want == 0) != (err != nil) {
			t.Errorf("%s: kind %d err %v, want %d", in, k, err, want)
		}
	}
}
