package codex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// loginFlow is a ChatGPT device-code login on its own short-lived
// app-server, which stays up until the login completes, fails or expires.
type loginFlow struct {
	srv  *appServer
	info agentrt.LoginInfo

	mu      sync.Mutex
	loginID string

	once sync.Once
	done chan struct{}
	err  error
}

// StartLogin implements agentrt.LoginAdapter: account/login/start with
// the chatgptDeviceCode flow. The answer carries the user code and the
// verification URL; account/login/completed ends the flow.
func (a *Adapter) StartLogin(ctx context.Context) (agentrt.LoginFlow, error) {
	s, err := a.startServer(ctx)
	if err != nil {
		return nil, err
	}
	f := &loginFlow{srv: s, done: make(chan struct{})}
	s.conn.setNotify(f.onNotification)
	rctx, cancel := context.WithTimeout(ctx, a.opts.RequestTimeout)
	defer cancel()
	var res struct {
		Type            string `json:"type"`
		LoginID         string `json:"loginId"`
		UserCode        string `json:"userCode"`
		VerificationURL string `json:"verificationUrl"`
	}
	if err := s.conn.call(rctx, "account/login/start", map[string]any{"type": "chatgptDeviceCode"}, &res); err != nil {
		s.close(context.WithoutCancel(ctx), time.Second)
		return nil, fmt.Errorf("codex device-code login: %w", s.explain(err))
	}
	if res.UserCode == "" || res.VerificationURL == "" {
		s.close(context.WithoutCancel(ctx), time.Second)
		return nil, errors.New("codex device-code login: answer lacks the user code or URL")
	}
	f.mu.Lock()
	f.loginID = res.LoginID
	f.mu.Unlock()
	f.info = agentrt.LoginInfo{
		Status:     string(agentrt.StatusAwaitingLogin),
		DeviceCode: res.UserCode,
		LoginURL:   res.VerificationURL,
		ExpiresAt:  a.opts.Now().Add(a.opts.LoginTTL),
	}
	go f.watch(a.opts.LoginTTL)
	return f, nil
}

func (f *loginFlow) onNotification(method string, params json.RawMessage) {
	if method != "account/login/completed" {
		return
	}
	var p struct {
		LoginID *string `json:"loginId"`
		Success bool    `json:"success"`
		Error   *string `json:"error"`
	}
	if json.Unmarshal(params, &p) != nil {
		return
	}
	f.mu.Lock()
	mine := p.LoginID == nil || f.loginID == "" || *p.LoginID == f.loginID
	f.mu.Unlock()
	if !mine {
		return
	}
	if p.Success {
		f.end(nil)
		return
	}
	msg := "login failed"
	if p.Error != nil && *p.Error != "" {
		msg = "login failed: " + *p.Error
	}
	f.end(errors.New(msg))
}

// watch ends the flow on expiry or when the app-server dies.
func (f *loginFlow) watch(ttl time.Duration) {
	t := time.NewTimer(ttl)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		f.cancel()
		f.end(errors.New("the device code expired"))
	case <-f.srv.conn.closed:
		f.end(fmt.Errorf("codex app-server stopped during the login: %v", f.srv.conn.err()))
	}
}

func (f *loginFlow) cancel() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f.mu.Lock()
	id := f.loginID
	f.mu.Unlock()
	_ = f.srv.conn.call(ctx, "account/login/cancel", map[string]any{"loginId": id}, nil)
}

func (f *loginFlow) end(err error) {
	f.once.Do(func() {
		f.err = err
		f.srv.conn.setNotify(nil)
		close(f.done)
		go f.srv.close(context.Background(), 2*time.Second)
	})
}

func (f *loginFlow) Info() agentrt.LoginInfo { return f.info }

func (f *loginFlow) SubmitCode(context.Context, string) error {
	return fmt.Errorf("codex device-code login takes no code: %w", agentrt.ErrNotSupported)
}

func (f *loginFlow) Done() <-chan struct{} { return f.done }

func (f *loginFlow) Err() error {
	<-f.done
	return f.err
}

// Close abandons the flow and waits for its app-server to exit.
func (f *loginFlow) Close() {
	select {
	case <-f.done:
	default:
		f.cancel()
		f.end(errors.New("login abandoned"))
	}
	<-f.srv.readDone
}
