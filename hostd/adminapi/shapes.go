package adminapi

import (
	"encoding/json"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// The JSON shapes of admin-api.md. Every list is rendered as [] (never
// null) and every optional member is omitted, never null, unless the spec
// says null (an event's task_id).

type taskJSON struct {
	TaskID        string  `json:"task_id"`
	Status        string  `json:"status"`
	AgentRuntime  string  `json:"agent_runtime"`
	ThreadID      string  `json:"thread_id"`
	InputMessage  string  `json:"input_message"`
	OutputMessage *string `json:"output_message,omitempty"`
	ErrorMessage  *string `json:"error_message,omitempty"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	QueuePosition *int    `json:"queue_position,omitempty"`
}

func taskView(t tasks.Task) taskJSON {
	v := taskJSON{
		TaskID:       t.ID,
		Status:       string(t.Status),
		AgentRuntime: string(t.Runtime),
		ThreadID:     t.ThreadID,
		InputMessage: t.Input,
		CreatedAt:    formatTime(t.CreatedAt),
		UpdatedAt:    formatTime(t.UpdatedAt),
	}
	switch t.Status {
	case tasks.StatusCompleted:
		out := t.Output
		v.OutputMessage = &out
	case tasks.StatusFailed:
		msg := t.Error
		v.ErrorMessage = &msg
	}
	return v
}

func listedTaskView(t tasks.ListedTask) taskJSON {
	v := taskView(t.Task)
	pos := t.QueuePosition
	v.QueuePosition = &pos
	return v
}

type tasksJSON struct {
	Tasks []taskJSON `json:"tasks"`
}

type acceptedJSON struct {
	Status string `json:"status"`
}

var accepted = acceptedJSON{Status: "accepted"}

type taskRefJSON struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"`
}

type threadJSON struct {
	ThreadID     string        `json:"thread_id"`
	AgentRuntime string        `json:"agent_runtime"`
	LastUsedAt   string        `json:"last_used_at"`
	ActiveTasks  []taskRefJSON `json:"active_tasks"`
	TaskCount    int           `json:"task_count"`
}

type threadsJSON struct {
	Threads []threadJSON `json:"threads"`
}

func threadView(t tasks.Thread) threadJSON {
	v := threadJSON{
		ThreadID:     t.ID,
		AgentRuntime: string(t.Runtime),
		LastUsedAt:   formatTime(t.LastUsedAt),
		ActiveTasks:  make([]taskRefJSON, 0, len(t.ActiveTasks)),
		TaskCount:    t.TaskCount,
	}
	for _, ref := range t.ActiveTasks {
		v.ActiveTasks = append(v.ActiveTasks, taskRefJSON{TaskID: ref.TaskID, Status: string(ref.Status)})
	}
	return v
}

type eventJSON struct {
	EventID   string          `json:"event_id"`
	Seq       int64           `json:"seq"`
	Timestamp string          `json:"timestamp"`
	EventType string          `json:"event_type"`
	TaskID    *string         `json:"task_id"`
	Payload   json.RawMessage `json:"payload"`
}

type eventsJSON struct {
	Events []eventJSON `json:"events"`
}

var emptyObject = json.RawMessage(`{}`)

func eventView(e tasks.Event) eventJSON {
	v := eventJSON{
		EventID:   e.ID,
		Seq:       e.Seq,
		Timestamp: formatTime(e.Timestamp),
		EventType: e.Type,
		Payload:   e.Payload,
	}
	if e.TaskID != "" {
		id := e.TaskID
		v.TaskID = &id
	}
	if len(v.Payload) == 0 || !json.Valid(v.Payload) {
		v.Payload = emptyObject
	}
	return v
}

type networkEventsJSON struct {
	Events []networkEventJSON `json:"events"`
}

// networkEventJSON is netstate.Event with the API's time format.
type networkEventJSON struct {
	Seq       int64  `json:"seq"`
	Timestamp string `json:"timestamp"`
	Protocol  string `json:"protocol"`
	Method    string `json:"method"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	Path      string `json:"path"`
	Query     string `json:"query"`
	Decision  string `json:"decision"`
	Reason    string `json:"reason,omitempty"`
}

func networkEventView(e netstate.Event) networkEventJSON {
	v := networkEventJSON{
		Seq: e.Seq, Timestamp: formatTime(e.Timestamp), Protocol: e.Protocol, Method: e.Method,
		Host: e.Host, Port: e.Port, Path: e.Path, Query: e.Query, Decision: e.Decision,
	}
	if e.Decision != "allowed" {
		v.Reason = e.Reason
	}
	return v
}

type runtimeJSON struct {
	Type          string   `json:"type"`
	Status        string   `json:"status"`
	ActiveTaskIDs []string `json:"active_task_ids"`
	ErrorMessage  string   `json:"error_message,omitempty"`
}

type runtimesJSON struct {
	Runtimes []runtimeJSON `json:"runtimes"`
}

type accountJSON struct {
	AgentRuntime   string `json:"agent_runtime"`
	Provider       string `json:"provider"`
	Status         string `json:"status"`
	AccountID      string `json:"account_id,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	Email          string `json:"email,omitempty"`
}

type accountsJSON struct {
	Accounts []accountJSON `json:"accounts"`
}

func accountView(a agentrt.AccountInfo) accountJSON {
	return accountJSON{
		AgentRuntime:   string(a.Type),
		Provider:       a.Type.Provider(),
		Status:         string(a.Status),
		AccountID:      a.Account.AccountID,
		OrganizationID: a.Account.OrganizationID,
		Email:          a.Account.Email,
	}
}

type loginJSON struct {
	Status     string `json:"status"`
	DeviceCode string `json:"device_code,omitempty"`
	LoginURL   string `json:"login_url,omitempty"`
	ExpiresAt  string `json:"expires_at,omitempty"`
}

func loginView(l agentrt.LoginInfo) loginJSON {
	v := loginJSON{Status: l.Status, DeviceCode: l.DeviceCode, LoginURL: l.LoginURL}
	if !l.ExpiresAt.IsZero() {
		v.ExpiresAt = formatTime(l.ExpiresAt)
	}
	return v
}

type usageJSON struct {
	UsedBytes  uint64 `json:"used_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
}

type filesystemJSON struct {
	UsedBytes  uint64               `json:"used_bytes"`
	TotalBytes uint64               `json:"total_bytes"`
	Mounts     map[string]usageJSON `json:"mounts"`
}

type hostRuntimeJSON struct {
	CPU struct {
		UsagePercent float64 `json:"usage_percent"`
	} `json:"cpu"`
	Memory     usageJSON      `json:"memory"`
	Filesystem filesystemJSON `json:"filesystem"`
	Swap       struct {
		AllocatedBytes uint64 `json:"allocated_bytes"`
		UsedBytes      uint64 `json:"used_bytes"`
	} `json:"swap"`
}

func hostRuntimeView(s hostinfo.Snapshot) hostRuntimeJSON {
	var v hostRuntimeJSON
	v.CPU.UsagePercent = s.CPUPercent
	v.Memory = usageJSON{UsedBytes: s.Memory.UsedBytes, TotalBytes: s.Memory.TotalBytes}
	v.Swap.AllocatedBytes, v.Swap.UsedBytes = s.Swap.AllocatedBytes, s.Swap.UsedBytes
	v.Filesystem.Mounts = map[string]usageJSON{}
	for _, m := range s.Mounts {
		u := usageJSON{UsedBytes: m.UsedBytes, TotalBytes: m.TotalBytes}
		v.Filesystem.Mounts[m.Name] = u
		if m.Name == "root" {
			v.Filesystem.UsedBytes, v.Filesystem.TotalBytes = u.UsedBytes, u.TotalBytes
		}
	}
	return v
}

type statusJSON struct {
	Status       string `json:"status"`
	ErrorMessage string `json:"error_message,omitempty"`
}

type healthJSON struct {
	Status          string          `json:"status"`
	AgentName       string          `json:"agent_name"`
	AgentRuntime    runtimesJSON    `json:"agent_runtime"`
	NetworkControls statusJSON      `json:"network_controls"`
	HostRuntime     hostRuntimeJSON `json:"host_runtime"`
}

// policyDocJSON is GET/PUT /v1/network/policy.
type policyDocJSON struct {
	NetworkControls *policy.Policy `json:"network_controls"`
	UpdatedAt       *string        `json:"updated_at"`
	// ErrorMessage is set when the stored policy is unreadable or invalid
	// (network_controls is then null and the proxy denies everything).
	ErrorMessage string `json:"error_message,omitempty"`
}

func policyDocView(d netstate.PolicyDoc) policyDocJSON {
	v := policyDocJSON{NetworkControls: normalisedPolicy(d.Policy), ErrorMessage: d.Error}
	if !d.UpdatedAt.IsZero() {
		s := formatTime(d.UpdatedAt)
		v.UpdatedAt = &s
	}
	if d.Policy == nil && v.ErrorMessage == "" {
		v.ErrorMessage = "the stored network policy could not be read"
	}
	return v
}

// normalisedPolicy renders a policy with every member present: the
// provider switches, {} for no domains, [] for no methods.
func normalisedPolicy(p *policy.Policy) *policy.Policy {
	if p == nil {
		return nil
	}
	out := &policy.Policy{ManagedProviders: &policy.ManagedProviders{}, Allowed: map[string]policy.DomainRule{}}
	if p.ManagedProviders != nil {
		*out.ManagedProviders = *p.ManagedProviders
	}
	for k, r := range p.Allowed {
		if r.AllowHTTPMethods == nil {
			r.AllowHTTPMethods = []string{}
		}
		out.Allowed[k] = r
	}
	return out
}

type checkJSON struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
	Rule     string `json:"rule,omitempty"`
}
