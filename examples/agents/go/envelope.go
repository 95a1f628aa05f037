// The envelope and its encodings, from docs/protocol.md ("Envelope", "Encodings").
//
// We send JSON (every receiver accepts it and answers a JSON request in JSON) and decode both
// JSON and msgpack: deliveries the system originates (assigns, credentials, commands) are msgpack.
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/vmihailenco/msgpack/v5"
)

// Envelope is the wire shape of every message (docs/schemas/envelope.schema.json).
type Envelope struct {
	Sv    int             `json:"sv" msgpack:"sv"`
	Type  string          `json:"type" msgpack:"type"`
	ID    string          `json:"id" msgpack:"id"`
	Ts    int64           `json:"ts" msgpack:"ts"`
	From  string          `json:"from" msgpack:"from"`
	Corr  string          `json:"corr,omitempty" msgpack:"corr,omitempty"`
	Cause string          `json:"cause,omitempty" msgpack:"cause,omitempty"`
	Run   string          `json:"run,omitempty" msgpack:"run,omitempty"`
	Body  json.RawMessage `json:"body" msgpack:"-"`
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// encode builds a JSON envelope. `replyTo`, when given, is the request being answered: its id
// becomes `cause` and its `corr` (or id) our `corr`.
func encode(from, typ string, body any, replyTo *Envelope, run string) []byte {
	raw, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	env := Envelope{Sv: 1, Type: typ, ID: newID(), Ts: time.Now().UnixMilli(), From: from, Body: raw, Run: run}
	if replyTo != nil {
		env.Cause = replyTo.ID
		env.Corr = replyTo.Corr
		if env.Corr == "" {
			env.Corr = replyTo.ID
		}
		if env.Run == "" {
			env.Run = replyTo.Run
		}
	}
	out, err := json.Marshal(env)
	if err != nil {
		panic(err)
	}
	return out
}

// decode reads an envelope in either encoding: a first byte `{` is JSON, anything else msgpack.
// The body is returned as JSON so one set of structs reads both.
func decode(data []byte) (*Envelope, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty payload")
	}
	if data[0] == '{' {
		var env Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, err
		}
		return &env, nil
	}
	var m map[string]any
	if err := msgpack.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("undecodable msgpack: %w", err)
	}
	// Round-trip through JSON: msgpack maps become the same shapes JSON gives.
	asJSON, err := json.Marshal(normalise(m))
	if err != nil {
		return nil, err
	}
	var env Envelope
	if err := json.Unmarshal(asJSON, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// normalise turns map[any]any (msgpack's generic maps) into map[string]any for encoding/json.
func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalise(x)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = normalise(x)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = normalise(x)
		}
		return t
	default:
		return v
	}
}

// GovError is a refusal: an empty body with Gov-Error-* headers (docs/protocol.md, "Replies and errors").
type GovError struct {
	Code      string
	Message   string
	Retryable bool
}

func (e *GovError) Error() string { return e.Code + ": " + e.Message }

func respondError(m *nats.Msg, e *GovError) {
	if m.Reply == "" {
		return
	}
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set("Gov-Error-Code", e.Code)
	reply.Header.Set("Gov-Error-Message", e.Message)
	reply.Header.Set("Gov-Error-Retryable", fmt.Sprint(e.Retryable))
	_ = m.RespondMsg(reply)
}

// errorOf reads a refusal from a reply's headers (nil when it is a normal reply).
func errorOf(m *nats.Msg) *GovError {
	if m.Header == nil || m.Header.Get("Gov-Error-Code") == "" {
		return nil
	}
	return &GovError{
		Code:      m.Header.Get("Gov-Error-Code"),
		Message:   m.Header.Get("Gov-Error-Message"),
		Retryable: m.Header.Get("Gov-Error-Retryable") == "true",
	}
}

// connect joins NATS, with the agent's own credentials when a .creds file is given. Reply inboxes
// are private per user (docs/security.md): `_INBOX.<user name>`, the name read from the user JWT.
func connect(url, creds, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
		user, err := credsUserName(creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.CustomInboxPrefix("_INBOX."+user))
	}
	return nats.Connect(url, opts...)
}

// credsUserName is the `name` claim of the user JWT in a .creds file.
func credsUserName(file string) (string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(text), "\n") {
		parts := strings.Split(strings.TrimSpace(line), ".")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "ey") {
			continue
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", err
		}
		var claims struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			return "", err
		}
		return claims.Name, nil
	}
	return "", fmt.Errorf("%s: no user JWT found", file)
}
