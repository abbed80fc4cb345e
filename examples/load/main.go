// Command load drives concurrent callers against a running API and prints
// throughput and latency percentiles. With "bare" it serves a bare net/http
// handler that decodes and encodes the same JSON by hand, to measure the
// machine's baseline in the same run.
//
//	go run ./examples/load bare -addr 127.0.0.1:8081
//	go run ./examples/load run -url http://127.0.0.1:8081/api -c 32 -d 10s
//	go run ./examples/load run -url http://127.0.0.1:8080/api -c 32 -d 10s -signin root:secret
//	go run ./examples/load run -url http://127.0.0.1:8080/api -c 32 -d 10s -transport ws -encoding msgpack
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "load:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: load bare [-addr a] | load run -url u [-transport http|ws] [-encoding json|msgpack] [-c n] [-d dur] [-method m] [-params json] [-signin user:password] [-token t]")
	}
	switch args[0] {
	case "bare":
		return serveBare(ctx, args[1:], out)
	case "run":
		return drive(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown command %q: want bare or run", args[0])
}
