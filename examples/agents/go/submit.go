// The run submitter, written from docs/protocol.md ("Submitting a run"): ask run.request.v1 on
// gov.svc.orchestrator in JSON, then follow the run's run.event.v1 on the JSON feed until it ends.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

type runEvent struct {
	RunID   string           `json:"runId"`
	Event   string           `json:"event"`
	StageID string           `json:"stageId"`
	Agent   string           `json:"agentId"`
	Error   *serialisedError `json:"error"`
}

// scalar types a parameter the way `agov run --param` does: true/false, numbers, else a string.
func scalar(v string) any {
	if v == "true" || v == "false" {
		return v == "true"
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && v != "" {
		return f
	}
	return v
}

func submit(url, creds, file string, p params, timeout time.Duration) (int, error) {
	yaml, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	nc, err := connect(url, creds, "agov-go-submit")
	if err != nil {
		return 0, err
	}
	defer nc.Close()

	// Subscribe to the feed before submitting: the feed is at-most-once with no replay, and the first
	// events follow the accept at once.
	events := make(chan runEvent, 256)
	sub, err := nc.Subscribe("gov.obs.run.>", func(m *nats.Msg) {
		env, err := decode(m.Data)
		if err != nil || env.Type != "run.event.v1" {
			return
		}
		var e runEvent
		if json.Unmarshal(env.Body, &e) == nil {
			events <- e
		}
	})
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return 0, err
	}

	values := map[string]any{}
	for k, v := range p {
		values[k] = scalar(v)
	}
	req := encode("agov-go-submit", "run.request.v1", map[string]any{
		"yaml": string(yaml), "params": values, "requestedBy": "agov-go-submit",
	}, nil, "")
	reply, err := nc.Request("gov.svc.orchestrator", req, 10*time.Second)
	if err != nil {
		return 0, fmt.Errorf("run.request.v1: %w", err)
	}
	if e := errorOf(reply); e != nil {
		fmt.Printf("refused: %s %s\n", e.Code, e.Message)
		if d := reply.Header.Get("Gov-Error-Details"); d != "" {
			fmt.Printf("details: %s\n", d)
		}
		return 1, nil
	}
	accepted, err := decode(reply.Data)
	if err != nil {
		return 0, err
	}
	var acc struct {
		RunID    string   `json:"runId"`
		Pipeline string   `json:"pipeline"`
		Stages   []string `json:"stages"`
	}
	if err := json.Unmarshal(accepted.Body, &acc); err != nil {
		return 0, err
	}
	fmt.Printf("run %s: pipeline %s, %d stage(s)\n", acc.RunID, acc.Pipeline, len(acc.Stages))
	deadline := time.After(timeout)
	for {
		select {
		case e := <-events:
			if e.RunID != acc.RunID {
				continue
			}
			line := e.Event
			if e.StageID != "" {
				line += " " + e.StageID
			}
			if e.Error != nil {
				line += fmt.Sprintf(" (%s: %s)", e.Error.Code, e.Error.Message)
			}
			fmt.Println(line)
			switch e.Event {
			case "run-succeeded":
				return 0, nil
			case "run-failed", "run-cancelled":
				return 1, nil
			}
		case <-deadline:
			return 3, fmt.Errorf("run %s did not end within %s", acc.RunID, timeout)
		}
	}
}
