package adminapi

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// params are the named path segments of a matched route.
type params map[string]string

// reply is what a JSON handler answers.
type reply struct {
	status int // default 200
	body   any
	// header holds extra response headers (Set-Cookie). They are not part
	// of an idempotency record, so a replay never re-sends them.
	header http.Header
	// after runs once the response has been sent and its idempotency
	// record committed (the reboot).
	after func()
}

func ok(body any) (reply, error) { return reply{status: http.StatusOK, body: body}, nil }

type handlerFunc func(r *http.Request, p params) (reply, error)

// streamFunc serves a live stream; it writes the response itself.
type streamFunc func(w http.ResponseWriter, r *http.Request) error

type idemMode int

const (
	idemNone     idemMode = iota // GET
	idemStore                    // POST/PUT/DELETE: key required, first response stored and replayed
	idemValidate                 // session routes: key required and validated, never stored
)

// endpoint is one method of one route.
type endpoint struct {
	handle handlerFunc
	stream streamFunc
	query  []string // accepted query parameters; anything else is 400
	public bool     // no credentials needed (POST /v1/session only)
	idem   idemMode
}

type route struct {
	pattern string
	segs    []string // "{name}" matches one segment
	methods map[string]*endpoint
	allow   string // value of the Allow header on 405
}

func newRoute(pattern string, eps map[string]*endpoint) *route {
	methods := make([]string, 0, len(eps))
	for m, ep := range eps {
		methods = append(methods, m)
		if ep.idem == idemNone && m != http.MethodGet {
			ep.idem = idemStore
		}
	}
	sort.Strings(methods)
	return &route{
		pattern: pattern,
		segs:    strings.Split(strings.TrimPrefix(pattern, "/"), "/"),
		methods: eps,
		allow:   strings.Join(methods, ", "),
	}
}

// match finds the route for an escaped request path. Each segment is
// unescaped on its own, so an encoded slash stays inside its segment, and
// empty segments (a trailing or doubled slash) never match.
func (a *api) match(escapedPath string) (*route, params) {
	raw := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, nil
		}
		segs[i] = u
	}
	for _, rt := range a.routes {
		if len(rt.segs) != len(segs) {
			continue
		}
		p := params{}
		matched := true
		for i, want := range rt.segs {
			if strings.HasPrefix(want, "{") {
				p[strings.Trim(want, "{}")] = segs[i]
			} else if want != segs[i] {
				matched = false
				break
			}
		}
		if matched {
			return rt, p
		}
	}
	return nil, nil
}

func get(h handlerFunc, query ...string) map[string]*endpoint {
	return map[string]*endpoint{http.MethodGet: {handle: h, query: query}}
}

func getStream(h streamFunc, query ...string) map[string]*endpoint {
	return map[string]*endpoint{http.MethodGet: {stream: h, query: query}}
}

func merge(eps ...map[string]*endpoint) map[string]*endpoint {
	out := map[string]*endpoint{}
	for _, m := range eps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func method(m string, h handlerFunc) map[string]*endpoint {
	return map[string]*endpoint{m: {handle: h}}
}

// routeTable lists every route of admin-api.md. Literal routes come before
// parameterised ones of the same length.
func (a *api) routeTable() []*route {
	const (
		post = http.MethodPost
		put  = http.MethodPut
		del  = http.MethodDelete
	)
	page := []string{"since", "limit"}
	return []*route{
		newRoute("/v1/health", get(a.health)),
		newRoute("/v1/session", map[string]*endpoint{
			post: {handle: a.login, public: true, idem: idemValidate},
			del:  {handle: a.logout, idem: idemValidate},
		}),
		newRoute("/v1/agent-runtime/status", get(a.runtimeStatus)),
		newRoute("/v1/agent-runtime/account", get(a.accounts)),
		newRoute("/v1/agent-runtime/codex-oauth-login", merge(
			method(post, a.startLogin(agentrt.Codex)), get(a.currentLogin(agentrt.Codex)))),
		newRoute("/v1/agent-runtime/claude-oauth-login", merge(
			method(post, a.startLogin(agentrt.ClaudeCode)), get(a.currentLogin(agentrt.ClaudeCode)))),
		newRoute("/v1/agent-runtime/claude-oauth-login/complete", method(post, a.completeClaudeLogin)),
		newRoute("/v1/tasks", merge(method(post, a.createTask), get(a.listTasks, "last_seen_task_id", "limit"))),
		newRoute("/v1/tasks/{id}", merge(get(a.getTask), method(put, a.editTask))),
		newRoute("/v1/tasks/{id}/steer", method(post, a.steerTask)),
		newRoute("/v1/tasks/{id}/cancel", method(post, a.cancelTask)),
		newRoute("/v1/tasks/{id}/kill", method(post, a.killTask)),
		newRoute("/v1/tasks/{id}/events", get(a.taskEvents, page...)),
		newRoute("/v1/threads", get(a.threads)),
		newRoute("/v1/threads/{thread_id}/tasks", get(a.threadTasks)),
		newRoute("/v1/events", get(a.events, page...)),
		newRoute("/v1/events/stream", getStream(a.eventStream, "since")),
		newRoute("/v1/network/policy", merge(get(a.getPolicy), method(put, a.putPolicy))),
		newRoute("/v1/network/policy/check", method(post, a.checkPolicy)),
		newRoute("/v1/network/events", get(a.networkEvents, page...)),
		newRoute("/v1/network/events/stream", getStream(a.networkEventStream, "since")),
		newRoute("/v1/host-runtime/reboot", method(post, a.reboot)),
	}
}
