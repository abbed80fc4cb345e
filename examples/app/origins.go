package main

import (
	"strings"

	"github.com/authrpc/authrpc/rpc"
)

// origins is the -cors-origin flag: repeatable, each a comma-separated list.
type origins []string

func (o *origins) String() string { return strings.Join(*o, ",") }

func (o *origins) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*o = append(*o, s)
		}
	}
	return nil
}

// cors lets pages on the origins given call the API; none leaves CORS off.
func (o origins) cors() *rpc.CORSOptions {
	if len(o) == 0 {
		return nil
	}
	return &rpc.CORSOptions{AllowedOrigins: o}
}
