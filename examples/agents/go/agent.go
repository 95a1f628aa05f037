// The agent, written from docs/protocol.md ("Agents"): register, heartbeat, accept tasks of its tier,
// report progress and one result per task, obey cancel and suspend/resume, keep run credentials in
// memory only.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

var tierRank = map[string]int{"T0": 0, "T1": 1, "T2": 2}

// Task kinds this agent runs, and the lowest tier that may run each (docs/agents.md, "Tiers").
var kindTier = map[string]string{"noop": "T0", "sleep": "T0", "fail": "T0"}

type taskRef struct {
	TaskID  string `json:"taskId"`
	RunID   string `json:"runId"`
	StageID string `json:"stageId"`
	Attempt int    `json:"attempt"`
}

type assign struct {
	taskRef
	Task         map[string]any    `json:"task"`
	RequiredTier string            `json:"requiredTier"`
	TimeoutMs    int64             `json:"timeoutMs"`
	ReplyTo      string            `json:"replyTo"`
	Env          map[string]string `json:"env"`
}

type serialisedError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

type running struct {
	a      assign
	began  time.Time
	cancel chan serialisedError // an abort: cancel, suspend, timeout
	once   sync.Once
}

type agent struct {
	nc          *nats.Conn
	id, tier    string
	heartbeatMs int64
	started     time.Time

	mu          sync.Mutex
	state       string // idle, working, suspended
	current     *running
	seq         int
	processed   int
	credentials map[string]string // run id -> child token (memory only)
}

func (g *agent) inbox() string { return "gov.actor.agent." + g.id }

func (g *agent) statusLocked() map[string]any {
	s := map[string]any{
		"agentId": g.id, "state": g.state, "tier": g.tier,
		"capabilities": []string{"noop", "sleep", "fail"}, "restarts": 0,
	}
	if g.current != nil {
		s["currentTask"] = g.current.a.taskRef
	}
	return s
}

func (g *agent) heartbeat() {
	g.mu.Lock()
	body := map[string]any{
		"actorId": g.id, "kind": "agent", "seq": g.seq, "pid": os.Getpid(), "host": hostname(),
		"uptimeMs": time.Since(g.started).Milliseconds(), "mailboxDepth": 0, "processed": g.processed,
		"intervalMs": g.heartbeatMs, "status": g.statusLocked(),
	}
	g.seq++
	g.mu.Unlock()
	_ = g.nc.Publish("gov.sys.hb.agent."+g.id, encode(g.id, "actor.heartbeat.v1", body, nil, ""))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func (g *agent) reply(m *nats.Msg, req *Envelope, typ string, body any) {
	if m.Reply != "" {
		_ = m.Respond(encode(g.id, typ, body, req, ""))
	}
}

func (g *agent) onMessage(m *nats.Msg) {
	env, err := decode(m.Data)
	if err != nil {
		respondError(m, &GovError{"GOV_ERR_DECODE", err.Error(), false})
		return
	}
	g.mu.Lock()
	g.processed++
	g.mu.Unlock()
	switch env.Type {
	case "actor.ping.v1":
		g.mu.Lock()
		n := g.processed
		g.mu.Unlock()
		g.reply(m, env, "actor.pong.v1", map[string]any{"actorId": g.id, "kind": "agent", "pid": os.Getpid(), "processed": n})
	case "agent.status.v1":
		g.mu.Lock()
		s := g.statusLocked()
		g.mu.Unlock()
		g.reply(m, env, "agent.state.v1", s)
	case "agent.task.assign.v1":
		g.onAssign(m, env)
	case "agent.task.cancel.v1":
		var ref taskRef
		_ = json.Unmarshal(env.Body, &ref)
		g.mu.Lock()
		r := g.current
		g.mu.Unlock()
		cancelled := r != nil && r.a.TaskID == ref.TaskID
		if cancelled {
			r.abort(serialisedError{"GOV_ERR_TASK_CANCELLED", "cancelled", false})
		}
		g.reply(m, env, "ack.v1", map[string]any{"ok": true, "info": map[string]any{"cancelled": cancelled}})
	case "agent.command.v1":
		g.onCommand(m, env)
	case "agent.credentials.v1":
		var c struct {
			RunID string `json:"runId"`
			Token string `json:"token"`
		}
		_ = json.Unmarshal(env.Body, &c)
		g.mu.Lock()
		g.credentials[c.RunID] = c.Token
		g.mu.Unlock()
		log.Printf("credentials for run %s received (kept in memory)", c.RunID)
	default:
		respondError(m, &GovError{"GOV_ERR_UNHANDLED_MESSAGE", fmt.Sprintf("agent %s does not handle %s", g.id, env.Type), false})
	}
}

func (g *agent) onAssign(m *nats.Msg, env *Envelope) {
	var a assign
	if err := json.Unmarshal(env.Body, &a); err != nil {
		respondError(m, &GovError{"GOV_ERR_INVALID_MESSAGE", err.Error(), false})
		return
	}
	kind, _ := a.Task["kind"].(string)
	need, known := kindTier[kind]
	if tierRank[g.tier] < tierRank[a.RequiredTier] || (known && tierRank[g.tier] < tierRank[need]) {
		respondError(m, &GovError{"GOV_ERR_TIER_FORBIDDEN", fmt.Sprintf("agent %s is %s; the task needs %s", g.id, g.tier, a.RequiredTier), false})
		return
	}
	g.mu.Lock()
	switch g.state {
	case "working":
		g.mu.Unlock()
		respondError(m, &GovError{"GOV_ERR_AGENT_BUSY", fmt.Sprintf("agent %s is working on %s", g.id, g.current.a.TaskID), true})
		return
	case "suspended":
		g.mu.Unlock()
		respondError(m, &GovError{"GOV_ERR_AGENT_UNAVAILABLE", fmt.Sprintf("agent %s is suspended", g.id), true})
		return
	}
	r := &running{a: a, began: time.Now(), cancel: make(chan serialisedError, 1)}
	g.current, g.state = r, "working"
	g.mu.Unlock()
	// Accept first, then work: the accept is the reply to the ask; progress and the result go to replyTo.
	g.reply(m, env, "agent.task.accepted.v1", map[string]any{
		"taskId": a.TaskID, "runId": a.RunID, "stageId": a.StageID, "attempt": a.Attempt, "agentId": g.id,
	})
	go g.run(r, kind, known, env)
}

func (r *running) abort(e serialisedError) {
	r.once.Do(func() { r.cancel <- e })
}

// run executes one task and reports exactly one result.
func (g *agent) run(r *running, kind string, known bool, req *Envelope) {
	a := r.a
	g.tell(a.ReplyTo, "agent.task.progress.v1", map[string]any{
		"taskId": a.TaskID, "runId": a.RunID, "stageId": a.StageID, "attempt": a.Attempt, "agentId": g.id,
		"fraction": 0, "note": "started",
	}, req)
	status, output, failure := "succeeded", map[string]any{"by": g.id, "pipelineId": a.Env["PIPELINE_ID"]}, (*serialisedError)(nil)
	timeout := time.NewTimer(time.Duration(a.TimeoutMs) * time.Millisecond)
	defer timeout.Stop()
	switch {
	case !known:
		status, failure = "failed", &serialisedError{"GOV_ERR_TASK_NOT_HANDLED", fmt.Sprintf("this agent cannot run %s tasks", kind), false}
	case kind == "fail":
		msg, _ := r.a.Task["message"].(string)
		code, _ := r.a.Task["code"].(string)
		if code == "" {
			code = "GOV_ERR_TASK_FAILED"
		}
		status, failure = "failed", &serialisedError{code, msg, false}
	case kind == "sleep":
		ms, _ := r.a.Task["ms"].(float64)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			output["sleptMs"] = ms
		case e := <-r.cancel:
			status, failure = "cancelled", &e
		case <-timeout.C:
			status, failure = "failed", &serialisedError{"GOV_ERR_TIMEOUT", "task timed out", true}
		}
	}
	result := map[string]any{
		"taskId": a.TaskID, "runId": a.RunID, "stageId": a.StageID, "attempt": a.Attempt, "agentId": g.id,
		"status": status, "durationMs": time.Since(r.began).Milliseconds(),
	}
	if failure != nil {
		result["error"] = failure
	} else {
		result["output"] = output
	}
	g.mu.Lock()
	if g.current == r {
		g.current = nil
		if g.state == "working" {
			g.state = "idle"
		}
	}
	g.mu.Unlock()
	g.tell(a.ReplyTo, "agent.task.result.v1", result, req)
	log.Printf("task %s (%s/%s) %s", a.TaskID, a.RunID, a.StageID, status)
}

func (g *agent) tell(subject, typ string, body any, req *Envelope) {
	_ = g.nc.Publish(subject, encode(g.id, typ, body, req, ""))
}

func (g *agent) onCommand(m *nats.Msg, env *Envelope) {
	var c struct {
		Command, By, ByTier, Reason string
	}
	_ = json.Unmarshal(env.Body, &c)
	g.mu.Lock()
	var refusal *GovError
	var abort *running
	switch c.Command {
	case "suspend":
		if g.state == "suspended" {
			refusal = &GovError{"GOV_ERR_INVALID_TRANSITION", "already suspended", false}
		} else {
			abort, g.state = g.current, "suspended"
		}
	case "resume":
		if g.state != "suspended" {
			refusal = &GovError{"GOV_ERR_INVALID_TRANSITION", "not suspended", false}
		} else {
			g.state = "idle"
		}
	default:
		refusal = &GovError{"GOV_ERR_INVALID_TRANSITION", "this agent does not take " + c.Command, false}
	}
	s := g.statusLocked()
	g.mu.Unlock()
	if refusal != nil {
		respondError(m, refusal)
		return
	}
	log.Printf("%s by %s (%s): now %s", c.Command, c.By, c.Reason, s["state"])
	if abort != nil {
		abort.abort(serialisedError{"GOV_ERR_TASK_CANCELLED", "suspended: " + c.Reason, false})
	}
	g.reply(m, env, "agent.state.v1", s)
}

func runAgent(url, creds, id, tier string, heartbeatMs int64) error {
	if _, ok := tierRank[tier]; !ok {
		return fmt.Errorf("tier must be T0, T1 or T2, got %q", tier)
	}
	nc, err := connect(url, creds, "gov.actor.agent."+id)
	if err != nil {
		return err
	}
	g := &agent{nc: nc, id: id, tier: tier, heartbeatMs: heartbeatMs, started: time.Now(), state: "idle", credentials: map[string]string{}}
	if _, err := nc.Subscribe(g.inbox(), g.onMessage); err != nil {
		return err
	}
	// Subscribed before announcing, so an assign sent on our registration finds us.
	if err := nc.Flush(); err != nil {
		return err
	}
	// Under our own id, at our credential's tier: the broker allows nothing else. Announced again with
	// every heartbeat: receivers believe a heartbeat's tier only up to the last registration's.
	register := func() error {
		g.mu.Lock()
		reg := g.statusLocked()
		g.mu.Unlock()
		return nc.Publish("gov.agents.register."+tier+"."+id, encode(id, "agent.register.v1", reg, nil, ""))
	}
	if err := register(); err != nil {
		return err
	}
	g.heartbeat()
	fmt.Printf("agent %s (%s) ready on %s\n", id, tier, g.inbox())
	ticker := time.NewTicker(time.Duration(heartbeatMs) * time.Millisecond)
	defer ticker.Stop()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	for {
		select {
		case <-ticker.C:
			_ = register()
			g.heartbeat()
		case <-stop:
			_ = nc.Publish("gov.sys.exit.agent."+id, encode(id, "actor.exit.v1", map[string]any{
				"actorId": id, "kind": "agent", "pid": os.Getpid(), "incarnation": id, "reason": "shutdown",
			}, nil, ""))
			return nc.Drain()
		}
	}
}
