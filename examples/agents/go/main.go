// agov-go: a reference agent and run submitter for agent-governance in Go, written from
// docs/protocol.md with nothing but nats.go and a msgpack decoder.
//
//	agov-go agent  -id ID [-tier T1] [-heartbeat-ms 1000] [-nats URL] [-creds FILE]
//	agov-go submit -file PIPELINE.yaml [-param k=v]... [-nats URL] [-creds FILE] [-timeout 60s]
//
// NATS_URL and NATS_CREDS are the defaults of -nats and -creds (`eval "$(agov env)"` sets both).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"
)

type params map[string]string

func (p params) String() string { return fmt.Sprint(map[string]string(p)) }
func (p params) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("expected key=value, got %q", v)
	}
	p[k] = val
	return nil
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: agov-go agent|submit [flags] (agov-go agent -h)")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	url := fs.String("nats", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL")
	creds := fs.String("creds", os.Getenv("NATS_CREDS"), "NATS .creds file: this client's own credential")
	var err error
	switch os.Args[1] {
	case "agent":
		id := fs.String("id", "", "agent id (letters, digits, _ or -)")
		tier := fs.String("tier", "T1", "tier: T0, T1 or T2")
		hb := fs.Int64("heartbeat-ms", 1000, "heartbeat interval")
		_ = fs.Parse(os.Args[2:])
		if *id == "" {
			fmt.Fprintln(os.Stderr, "agov-go agent: -id is required")
			os.Exit(2)
		}
		err = runAgent(*url, *creds, *id, *tier, *hb)
	case "submit":
		file := fs.String("file", "", "pipeline file (YAML)")
		timeout := fs.Duration("timeout", 60*time.Second, "how long to follow the run")
		p := params{}
		fs.Var(p, "param", "pipeline parameter k=v (repeatable)")
		_ = fs.Parse(os.Args[2:])
		if *file == "" {
			fmt.Fprintln(os.Stderr, "agov-go submit: -file is required")
			os.Exit(2)
		}
		var code int
		code, err = submit(*url, *creds, *file, p, *timeout)
		if err == nil {
			os.Exit(code)
		}
	default:
		fmt.Fprintf(os.Stderr, "agov-go: unknown command %q (agent, submit)\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agov-go:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
