package adminapi

import (
	"net/http"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// events: GET /v1/events?since=&limit= — oldest first, seq > since.
func (a *api) events(r *http.Request, _ params) (reply, error) {
	return a.eventPage(r, "")
}

// taskEvents: GET /v1/tasks/{id}/events?since=&limit=.
func (a *api) taskEvents(r *http.Request, p params) (reply, error) {
	id, err := taskID(p)
	if err != nil {
		return reply{}, err
	}
	return a.eventPage(r, id)
}

func (a *api) eventPage(r *http.Request, taskID string) (reply, error) {
	q := r.URL.Query()
	since, err := parseSince(q)
	if err != nil {
		return reply{}, err
	}
	limit, err := parseLimit(q)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	evs, err := a.cfg.Tasks.Events(ctx, tasks.EventQuery{Since: since, Limit: limit, TaskID: taskID})
	if err != nil {
		return reply{}, err
	}
	out := eventsJSON{Events: make([]eventJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, eventView(e))
	}
	return ok(out)
}

// networkEvents: GET /v1/network/events?since=&limit=.
func (a *api) networkEvents(r *http.Request, _ params) (reply, error) {
	q := r.URL.Query()
	since, err := parseSince(q)
	if err != nil {
		return reply{}, err
	}
	limit, err := parseLimit(q)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	evs, err := a.cfg.Network.Events(ctx, since, limit)
	if err != nil {
		return reply{}, err
	}
	out := networkEventsJSON{Events: make([]networkEventJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, networkEventView(e))
	}
	return ok(out)
}
